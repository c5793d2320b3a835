/**
 * @ordo/postgres — the PostgreSQL event store and checkpoint store for Ordo: atomic appends with
 * expected versions and idempotent retries, a gap-free global log with LISTEN/NOTIFY wake-ups,
 * compare-and-set checkpoints that commit together with a projection's own writes, and lookup
 * tables (`order_numbers`, `notification_outbox`) kept by projections in that same transaction.
 */
export { PostgresEventStore, type PostgresEventStoreOptions } from './event-store.js';
export { PostgresCheckpointStore, type PostgresCheckpointStoreOptions } from './checkpoints.js';
export type { ConnectionOptions } from './connection.js';
export { DEFAULT_SCHEMA, LATEST_SCHEMA_VERSION, validateSchemaName } from './schema.js';
export {
  NOTIFICATION_OUTBOX_TABLE_PROJECTION,
  ORDER_NUMBERS_TABLE_PROJECTION,
  OUTBOX_STATUSES,
  createPostgresReadModels,
  findOrderIdByNumber,
  findOrderNumber,
  notificationOutboxTableProjection,
  orderNumbersTableProjection,
  outboxByStatus,
  outboxOfOrder,
  type OrderNumberRow,
  type OutboxPage,
  type OutboxRow,
  type OutboxStatus,
  type PostgresReadModels,
  type PostgresReadModelsOptions,
  type Queryable,
  type ReadModelProjectionOptions,
  type ReadModelQueryOptions,
} from './read-models.js';
