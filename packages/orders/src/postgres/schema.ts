import type pg from 'pg';
import { advisoryLockKey, applyMigrations, schemaNames, validateSchemaName, type Migration } from '@ordo/postgres';

/**
 * The order read-model tables' own history, recorded in `<schema>.orders_schema_migrations`,
 * apart from the event store's. `if not exists`: databases created before the tables moved out of
 * the store's schema already have them, with this exact shape.
 */
const migrations: Migration[] = [
  {
    version: 1,
    name: 'order_numbers, notification_outbox',
    sql: ({ q }) => `
-- Kept by projections (read-models.ts), each row written in the transaction that moves the
-- projection's checkpoint. position: the global position of the last event applied to the row.
create table if not exists ${q}.order_numbers (
  number text primary key,
  order_id uuid not null unique,
  day char(8) not null,
  prefix text not null,
  position bigint not null
);

create table if not exists ${q}.notification_outbox (
  dedupe_key text primary key,
  order_id uuid not null,
  channel text not null,
  template text not null,
  recipient text not null,
  status text not null
    check (status in ('requested', 'attempting', 'sent', 'failed', 'dead_lettered')),
  attempts int not null check (attempts >= 0),
  last_error text,
  requested_at timestamptz not null,
  updated_at timestamptz not null,
  position bigint not null
);

create index if not exists notification_outbox_status_idx on ${q}.notification_outbox (status, position);
create index if not exists notification_outbox_order_id_idx on ${q}.notification_outbox (order_id);
`,
  },
];

/** The order read-model tables' history, in order (what `migrateOrderTables` applies; `ordo migrate --print-sql` prints it). */
export const ORDER_TABLE_MIGRATIONS: readonly Migration[] = migrations;

/** The newest version of the order read-model tables this code knows. */
export const ORDER_TABLES_VERSION = migrations[migrations.length - 1]!.version;

/**
 * Creates or upgrades the order read-model tables in `schema` (the event store's; default `ordo`).
 * Safe to call from every service instance at once: callers take turns on an advisory lock.
 * Run the event store's `migrate()` first: the projections also need its checkpoints table.
 * @returns the versions this call applied.
 */
export async function migrateOrderTables(pool: pg.Pool, schema = 'ordo'): Promise<number[]> {
  const names = schemaNames(validateSchemaName(schema));
  return applyMigrations(pool, names, {
    table: 'orders_schema_migrations',
    lockKey: advisoryLockKey(`ordo:migrate:orders:${names.schema}`),
    migrations,
  });
}
