/**
 * The PostgreSQL event store and checkpoint store for Ordo: atomic appends with
 * expected versions and idempotent retries, a gap-free global log with LISTEN/NOTIFY wake-ups,
 * compare-and-set checkpoints that commit together with a projection's own writes, and the
 * migration runner that other packages use for their own tables.
 *
 * @module @ordo/postgres
 */
export { DEFAULT_NOTIFY_INTERVAL_MS, PostgresEventStore, type PostgresEventStoreOptions, type StoreRetryOptions } from './event-store.js';
export { PostgresCheckpointStore, type PostgresCheckpointStoreOptions } from './checkpoints.js';
export type { ConnectionOptions } from './connection.js';
export {
  DEFAULT_SCHEMA,
  LATEST_SCHEMA_VERSION,
  STORE_MIGRATIONS,
  advisoryLockKey,
  applyMigrations,
  schemaNames,
  validateSchemaName,
  type Migration,
  type MigrationHistory,
  type SchemaNames,
} from './schema.js';
export { STORE_TYPES } from './connection.js';
export { PoolerModeError, isPoolerModeError, type PoolerMode, type PoolerOptions } from './pooler.js';
export { ReplicaLagError, isReplicaLagError, type ReplicaOptions, type ReplicaWaitOptions } from './replica.js';
