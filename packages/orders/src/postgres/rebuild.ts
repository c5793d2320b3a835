import type pg from 'pg';
import type { EventStore, RebuildOptions } from '@ordo/core';
import { DEFAULT_SCHEMA, PostgresCheckpointStore, schemaNames, validateSchemaName } from '@ordo/postgres';
import {
  NOTIFICATION_OUTBOX_TABLE_PROJECTION,
  ORDER_NUMBERS_TABLE_PROJECTION,
  notificationOutboxTableProjection,
  orderNumbersTableProjection,
} from './read-models.js';

/** The order read-model tables a rebuild can replace. */
export type OrderTable = 'order_numbers' | 'notification_outbox';

/** Options of {@link orderTableRebuild}. */
export interface OrderTableRebuildOptions {
  store: EventStore;
  /** The database that holds the table and the checkpoints. */
  pool: pg.Pool;
  /** Schema of the table and checkpoints. Default `ordo`. */
  schema?: string;
  table: OrderTable;
  /** The live projection's name (checkpoint key). Default: the table's default projection name. */
  name?: string;
  /** Events per transaction. Default 500. */
  batchSize?: number;
}

/** The suffix of a shadow table: `order_numbers` is rebuilt into `order_numbers__rebuild`. */
export const SHADOW_TABLE_SUFFIX = '__rebuild';

/**
 * What `rebuildProjection` of `@ordo/core` needs to rebuild an order table beside its live
 * runner: the table's projection writing into a shadow table (`<table>__rebuild`, created like the
 * live one, with its constraints and indexes), and a swap that, inside the live checkpoint's
 * transaction, drops the live table, renames the shadow table in its place and gives its indexes
 * the live names. Readers of the table wait for that transaction, then see the new table.
 *
 * @example
 * await rebuildProjection(orderTableRebuild({ store, pool, table: 'order_numbers' }), { onProgress: console.log });
 */
export function orderTableRebuild(options: OrderTableRebuildOptions): RebuildOptions<pg.PoolClient> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const { q } = schemaNames(schema);
  const { pool, table } = options;
  const shadow = `${table}${SHADOW_TABLE_SUFFIX}`;
  const defaults = { order_numbers: ORDER_NUMBERS_TABLE_PROJECTION, notification_outbox: NOTIFICATION_OUTBOX_TABLE_PROJECTION };
  const projectionOptions = { schema, table: shadow, name: options.name ?? defaults[table] };
  const projection =
    table === 'order_numbers' ? orderNumbersTableProjection(projectionOptions) : notificationOutboxTableProjection(projectionOptions);
  return {
    store: options.store,
    checkpoints: new PostgresCheckpointStore({ pool, schema }),
    projection,
    ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
    async prepare() {
      await pool.query(`drop table if exists ${q}."${shadow}"; create table ${q}."${shadow}" (like ${q}."${table}" including all)`);
    },
    swap: (tx) => swapTables(tx, schema, table, shadow),
  };
}

/** Replaces `table` by `shadow` in `schema`, renaming the shadow's indexes to the live ones of the same definition. */
async function swapTables(tx: pg.PoolClient, schema: string, table: string, shadow: string): Promise<void> {
  const { q } = schemaNames(schema);
  // An index's definition without its own name and table: what pairs a shadow index with a live one.
  const shape = `regexp_replace(indexdef, '^(CREATE (UNIQUE )?INDEX) \\S+ ON \\S+ ', '\\1 ')`;
  const { rows } = await tx.query<{ live: string; shadow: string }>(
    `select l.indexname as live, s.indexname as shadow
       from pg_indexes l
       join pg_indexes s on s.schemaname = l.schemaname and s.tablename = $3
        and ${shape.replaceAll('indexdef', 's.indexdef')} = ${shape.replaceAll('indexdef', 'l.indexdef')}
      where l.schemaname = $1 and l.tablename = $2`,
    [schema, table, shadow],
  );
  await tx.query(`drop table ${q}."${table}"`);
  await tx.query(`alter table ${q}."${shadow}" rename to "${table}"`);
  for (const pair of rows) await tx.query(`alter index ${q}."${pair.shadow}" rename to "${pair.live}"`);
}
