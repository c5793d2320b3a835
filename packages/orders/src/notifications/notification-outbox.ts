import {
  type CheckpointStore,
  createProjectionRunner,
  type EventStore,
  MemoryCheckpointStore,
  type ProjectionRunner,
} from '@ordo/core';
import {
  createNotificationDispatcher,
  type NotificationDispatcher,
  type NotificationDispatcherOptions,
  type Sender,
} from './notification-dispatcher.js';
import { notificationRequestsProjection, type NotificationRules } from './notifications.js';

/** What {@link createNotifications} needs: the store, your {@link Sender}, and optionally the rules, checkpoints and dispatcher tuning. */
export interface NotificationsOptions {
  store: EventStore;
  sender: Sender;
  rules?: NotificationRules;
  /** Where both the requests projection and the dispatcher keep their positions. Default: in memory. */
  checkpoints?: CheckpointStore;
  /** Tuning of the dispatcher (attempts, backoff, timeouts, concurrency). */
  dispatch?: Omit<NotificationDispatcherOptions, 'store' | 'sender' | 'checkpoints'>;
}

/** The notification outbox: the requests projection and the dispatcher, started and stopped together. */
export interface Notifications {
  readonly requests: ProjectionRunner;
  readonly dispatcher: NotificationDispatcher;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Waits until every order event so far has been turned into requests, and every request settled. */
  waitUntilIdle(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * Sets up customer notifications over a store:
 *
 * @example
 * const notifications = createNotifications({ store, sender: { send: (n, { idempotencyKey }) => mailer.send(n, idempotencyKey) } });
 * await notifications.start();
 */
export function createNotifications(options: NotificationsOptions): Notifications {
  const checkpoints = options.checkpoints ?? new MemoryCheckpointStore();
  const requests = createProjectionRunner({
    store: options.store,
    checkpoints,
    projection: notificationRequestsProjection({ store: options.store, ...(options.rules && { rules: options.rules }) }),
  });
  const dispatcher = createNotificationDispatcher({ ...options.dispatch, store: options.store, sender: options.sender, checkpoints });
  return {
    requests,
    dispatcher,
    async start() {
      await requests.start();
      await dispatcher.start();
    },
    async stop() {
      await requests.stop();
      await dispatcher.stop();
    },
    async waitUntilIdle({ timeoutMs = 30_000 } = {}) {
      await requests.waitUntilCaughtUp({ timeoutMs });
      await dispatcher.waitUntilIdle({ timeoutMs });
    },
  };
}
