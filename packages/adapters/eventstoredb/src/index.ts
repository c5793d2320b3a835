/**
 * Ordo's event store and projection checkpoints on EventStoreDB (KurrentDB),
 * through the service's own `@eventstore/db-client` (or `@kurrent/kurrentdb-client`) instance.
 *
 * @module @ordo/eventstoredb
 */
export {
  EventStoreDBEventStore,
  DEFAULT_CHECKPOINT_STREAM_PREFIX,
  type EventStoreDBEventStoreOptions,
} from './event-store.js';
export {
  EventStoreDBCheckpointStore,
  CHECKPOINT_EVENT_TYPE,
  type EventStoreDBCheckpointStoreOptions,
} from './checkpoint-store.js';
export {
  EventStoreDBError,
  EventStoreDBStreamDeletedError,
  EventStoreDBTimeoutError,
  EventStoreDBUnavailableError,
  type EventStoreDBErrorKind,
} from './errors.js';
export type {
  EventStoreClient,
  ClientAppendResult,
  ClientPosition,
  ClientRecordedEvent,
  ClientResolvedEvent,
  ClientSubscription,
} from './client.js';
export type { SubscriptionSettings } from './subscription.js';
