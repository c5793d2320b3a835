/**
 * SQL lookup tables for orders (`order_numbers`, `notification_outbox`),
 * kept by projections that write them in the transaction that moves their checkpoint, with their
 * own migrations. Needs `@ordo/postgres` and `pg` (peer dependencies).
 *
 * @module @ordo/orders/postgres
 */
export { migrateOrderTables, ORDER_TABLE_MIGRATIONS, ORDER_TABLES_VERSION } from './schema.js';
export { orderTableRebuild, SHADOW_TABLE_SUFFIX, type OrderTable, type OrderTableRebuildOptions } from './rebuild.js';
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
