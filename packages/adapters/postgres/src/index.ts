/**
 * @ordo/postgres — the PostgreSQL event store and checkpoint store for Ordo: atomic appends with
 * expected versions and idempotent retries, a gap-free global log with LISTEN/NOTIFY wake-ups,
 * and compare-and-set checkpoints that commit together with a projection's own writes.
 */
export { PostgresEventStore, type PostgresEventStoreOptions } from './event-store.js';
export { PostgresCheckpointStore, type PostgresCheckpointStoreOptions } from './checkpoints.js';
export type { ConnectionOptions } from './connection.js';
export { DEFAULT_SCHEMA, LATEST_SCHEMA_VERSION, validateSchemaName } from './schema.js';
