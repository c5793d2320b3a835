/**
 * Everything the HTTP service runs in its process besides the server: the order service, and the
 * projections (order numbers, notifications, the admin board), started and stopped together.
 */
import { type CheckpointStore, type EventStore, MemoryCheckpointStore } from '@ordo/core';
import {
  createNotifications,
  createOrderNumbers,
  createOrderService,
  defaultLifecycle,
  type Lifecycle,
  type Notifications,
  type NotificationsOptions,
  type OrderNumbers,
  type OrderService,
  type Sender,
} from '@ordo/orders';
import { createOrderBoard, type OrderBoard } from './order-board.js';

/** What {@link startOrderRuntime} needs. */
export interface OrderRuntimeOptions {
  store: EventStore;
  /** Where numbering and notifications keep their positions (PostgreSQL in production). Default: memory. */
  checkpoints?: CheckpointStore;
  sender: Sender;
  /** Order number prefix for orders placed without one. Default `ORD`. */
  numberPrefix?: string;
  /** Dispatcher tuning (backoff, attempts). */
  dispatch?: NotificationsOptions['dispatch'];
}

/** The running parts. */
export interface OrderRuntime {
  readonly store: EventStore;
  readonly lifecycle: Lifecycle<string>;
  readonly orders: OrderService;
  readonly numbers: OrderNumbers;
  readonly notifications: Notifications;
  readonly board: OrderBoard;
  /** Stops the projections (each finishes the event in hand and stores its checkpoint). */
  stop(): Promise<void>;
}

/** Creates the order service and starts the projections it relies on. */
export async function startOrderRuntime(options: OrderRuntimeOptions): Promise<OrderRuntime> {
  const { store } = options;
  const checkpoints = options.checkpoints ?? new MemoryCheckpointStore();
  const orders = createOrderService({ store });
  const numbers = createOrderNumbers({ store, orders, checkpoints, prefix: options.numberPrefix ?? 'ORD' });
  const notifications = createNotifications({
    store,
    sender: options.sender,
    checkpoints,
    ...(options.dispatch && { dispatch: options.dispatch }),
  });
  const board = createOrderBoard(store);
  await board.runner.start();
  await numbers.start();
  await notifications.start();
  return {
    store,
    lifecycle: defaultLifecycle,
    orders,
    numbers,
    notifications,
    board,
    async stop() {
      await notifications.stop();
      await numbers.stop();
      await board.runner.stop();
    },
  };
}
