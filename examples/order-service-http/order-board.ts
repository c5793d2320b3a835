/**
 * The admin page's read model: every order's number, status and version, and the delivery state
 * of its notifications. An in-memory projection, rebuilt from the log at start; each process has
 * its own, which is fine for a view a few admins watch.
 */
import { createProjectionRunner, type EventStore, MemoryCheckpointStore, type ProjectionRunner, type RecordedEvent } from '@ordo/core';
import { NotificationEvents, type NotificationRequest, type OrderNumberAssigned, type OrderPlaced, type OrderStatusChanged } from '@ordo/orders';

/** How far a notification has got. */
export type DeliveryStatus = 'requested' | 'sending' | 'retrying' | 'sent' | 'dead-lettered';

/** One notification of an order, as the page shows it. */
export interface NotificationSummary {
  dedupeKey: string;
  channel: string;
  template: string;
  status: DeliveryStatus;
  attempts: number;
  lastError?: string;
}

/** One order, as the page lists it. */
export interface OrderSummary {
  id: string;
  number?: string;
  status: string;
  /** The order stream's version: the ETag the page sends back as If-Match. */
  version: bigint;
  /** Global position of the last event seen for this order or its notifications. */
  position: bigint;
  customer: string;
  total: { amount: number; currency: string };
  placedAt: string;
  updatedAt: string;
  notifications: NotificationSummary[];
}

/** The board and its runner. */
export interface OrderBoard {
  readonly runner: ProjectionRunner;
  /** Orders, newest first. */
  list(): OrderSummary[];
  get(orderId: string): OrderSummary | undefined;
}

const ORDER_EVENTS = ['OrderPlaced', 'OrderStatusChanged', 'OrderNumberAssigned'];
const NOTIFICATION_EVENTS = Object.values(NotificationEvents) as string[];

/** What the board holds: orders by id, and each notification stream's order and summary. */
interface BoardState {
  orders: Map<string, OrderSummary>;
  notifications: Map<string, { order: OrderSummary; summary: NotificationSummary }>;
}

/** Creates the board over `store`; start its runner to fill it. */
export function createOrderBoard(store: EventStore): OrderBoard {
  const board: BoardState = { orders: new Map(), notifications: new Map() };
  const runner = createProjectionRunner({
    store,
    checkpoints: new MemoryCheckpointStore(),
    projection: {
      name: 'admin-order-board',
      eventTypes: [...ORDER_EVENTS, ...NOTIFICATION_EVENTS],
      handle(event) {
        if (ORDER_EVENTS.includes(event.type)) applyOrderEvent(board, event);
        else applyNotificationEvent(board, event);
      },
    },
  });
  return {
    runner,
    list: () => [...board.orders.values()].sort((a, b) => (a.placedAt < b.placedAt ? 1 : a.placedAt > b.placedAt ? -1 : 0)),
    get: (orderId) => board.orders.get(orderId),
  };
}

function applyOrderEvent({ orders }: BoardState, event: RecordedEvent): void {
  if (event.type === 'OrderPlaced') {
    const data = event.data as OrderPlaced;
    orders.set(data.orderId, {
      id: data.orderId,
      status: 'pending',
      version: event.streamVersion,
      position: event.globalPosition,
      customer: data.customer.name ?? data.customer.email ?? data.customer.phone ?? '',
      total: data.total,
      placedAt: data.placedAt,
      updatedAt: data.placedAt,
      notifications: [],
    });
    return;
  }
  const data = event.data as OrderStatusChanged | OrderNumberAssigned;
  const order = orders.get(data.orderId);
  if (!order) return;
  order.version = event.streamVersion;
  order.position = event.globalPosition;
  if (event.type === 'OrderNumberAssigned') order.number = (data as OrderNumberAssigned).number;
  if (event.type === 'OrderStatusChanged') {
    order.status = (data as OrderStatusChanged).to;
    order.updatedAt = (data as OrderStatusChanged).at;
  }
}

function applyNotificationEvent({ orders, notifications }: BoardState, event: RecordedEvent): void {
  if (event.type === NotificationEvents.Requested) {
    const request = event.data as NotificationRequest;
    const order = orders.get(request.orderId);
    if (!order) return;
    const summary: NotificationSummary = { dedupeKey: request.dedupeKey, channel: request.channel, template: request.template, status: 'requested', attempts: 0 };
    order.notifications.push(summary);
    notifications.set(event.streamName, { order, summary });
    order.position = event.globalPosition;
    return;
  }
  const known = notifications.get(event.streamName);
  if (!known) return;
  const data = event.data as { attempt?: number; error?: string };
  const { summary, order } = known;
  order.position = event.globalPosition;
  if (event.type === NotificationEvents.Attempted) {
    summary.status = 'sending';
    summary.attempts = data.attempt ?? summary.attempts + 1;
  } else if (event.type === NotificationEvents.Failed) {
    summary.status = 'retrying';
    if (data.error !== undefined) summary.lastError = data.error;
  } else if (event.type === NotificationEvents.Sent) {
    summary.status = 'sent';
  } else if (event.type === NotificationEvents.DeadLettered) {
    summary.status = 'dead-lettered';
  }
}
