import type { Pool, PoolClient } from 'pg';
import { STORE_TYPES, checkedOut } from './connection.js';
import { poolerRefusal } from './pooler.js';
import type { MigrationHistory, SchemaNames } from './schema.js';

/**
 * Applies a component's pending migrations, one transaction per migration, each under a
 * transaction-level advisory lock: concurrent callers take turns, and no lock outlives its
 * transaction. That keeps migrations free of session state, so they run the same on a direct
 * connection and through a pooler in transaction mode, where consecutive transactions may run on
 * different server connections (a session lock would stay behind on one and be released on none).
 * Each transaction reads the applied versions again under the lock, so a migration another caller
 * applied meanwhile is not applied twice.
 * @returns the versions this call applied.
 * @throws PoolerModeError through a pooler in statement mode, which refuses transactions.
 */
export async function applyMigrationsInTransactions(pool: Pool, names: SchemaNames, history: MigrationHistory): Promise<number[]> {
  return checkedOut(pool, async (client, markBroken) => {
    const done: number[] = [];
    for (;;) {
      const applied = await inTransaction(client, markBroken, () => applyNext(client, names, history));
      if (applied === undefined) return done;
      done.push(applied);
    }
  });
}

/** Under the lock: the first pending migration, applied and recorded; or, when none is left, `after`. */
async function applyNext(client: PoolClient, names: SchemaNames, history: MigrationHistory): Promise<number | undefined> {
  const { table, lockKey, migrations } = history;
  await client.query('select pg_advisory_xact_lock($1)', [lockKey.toString()]);
  await client.query(`create schema if not exists ${names.q}`);
  await client.query(
    `create table if not exists ${names.q}.${table} (
       version int primary key,
       name text not null,
       applied_at timestamptz not null default now()
     )`,
  );
  const { rows } = await client.query<{ version: string }>({ text: `select version from ${names.q}.${table}`, types: STORE_TYPES });
  const applied = new Set(rows.map((r) => Number(r.version)));
  const pending = migrations.find((m) => !applied.has(m.version));
  if (!pending) {
    await history.after?.(client);
    return undefined;
  }
  await client.query(pending.sql(names));
  await client.query(`insert into ${names.q}.${table} (version, name) values ($1, $2)`, [pending.version, pending.name]);
  return pending.version;
}

async function inTransaction<T>(client: PoolClient, markBroken: (error: unknown) => void, work: () => Promise<T>): Promise<T> {
  try {
    await client.query('begin');
    const result = await work();
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(markBroken);
    throw poolerRefusal(error, 'A migration');
  }
}
