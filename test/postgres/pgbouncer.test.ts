/**
 * The store through PgBouncer in transaction mode (a third PostgreSQL configuration, beside a
 * direct connection and the EventStoreDB store): the store contract with live subscriptions that
 * poll (no LISTEN through a pooler), and with a direct LISTEN connection; migrations racing through
 * the pooler; and the typed errors of what a pooler in statement mode cannot do.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresCheckpointStore, PostgresEventStore, isPoolerModeError } from '@ordo/postgres';
import { describeEventStoreContract } from '@ordo/core/testing/contract';
import { createPooledTestStore, pooledTestPool, startPgBouncer, type TestPgBouncer } from '../support/pgbouncer.js';
import { dropSchema, testPool, uniqueSchemaName } from '../support/postgres.js';
import { recordingSubscription } from '../support/recording-subscription.js';
import { waitUntil } from '../support/wait.js';

let bouncer: TestPgBouncer;
beforeAll(async () => {
  bouncer = await startPgBouncer({ mode: 'transaction' });
});
afterAll(async () => {
  await bouncer?.stop();
});

describeEventStoreContract('PostgresEventStore through PgBouncer (transaction mode, polling)', () => createPooledTestStore(bouncer, { pollIntervalMs: 50 }));

describe('PostgresEventStore through PgBouncer in transaction mode', () => {
  it('sends no named prepared statement behind a pooler (PgBouncer 1.18 would lose it between transactions)', async () => {
    const store = await createPooledTestStore(bouncer);
    const names: (string | undefined)[] = [];
    const query = store.pool.query.bind(store.pool);
    store.pool.query = ((config: unknown, ...rest: unknown[]) => {
      if (typeof config === 'object' && config !== null) names.push((config as { name?: string }).name);
      return (query as (...a: unknown[]) => unknown)(config, ...rest);
    }) as typeof store.pool.query;
    try {
      await store.appendToStream('s-1', [{ id: randomUUID(), type: 'T', data: {} }], { expectedVersion: 'no_stream' });
      await store.readStream('s-1');
      await store.headPosition();
      for await (const _ of store.readAll()) void _;
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => n !== undefined && n !== '')).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('with a direct LISTEN connection, a subscriber is woken by another instance’s appends', async () => {
    const store = await createPooledTestStore(bouncer, { listen: true, pollIntervalMs: 60_000 });
    const other = await store.sibling({ pollIntervalMs: 60_000 });
    try {
      const sub = recordingSubscription(store);
      await sub.idleTwice();
      // The poll interval is a minute: only a notification can deliver this within the wait.
      const id = randomUUID();
      await other.store.appendToStream('s-woken', [{ id, type: 'T', data: {} }], { expectedVersion: 'no_stream' });
      await waitUntil(() => sub.received.length === 1, 'the event of the other instance', 30_000);
      expect(sub.received.map((e) => e.id)).toEqual([id]);
      await sub.subscription.stop();
    } finally {
      await other.close();
      await store.close();
    }
  });

  it('migrations racing through the pooler apply each version once', async () => {
    const schema = uniqueSchemaName('pgbmig');
    const pools = [0, 1, 2, 3].map(() => pooledTestPool(bouncer, { max: 2 }));
    const direct = testPool({ max: 1 });
    try {
      const results = await Promise.all(pools.map((pool) => new PostgresEventStore({ pool, schema, pooler: 'transaction' }).migrate()));
      const applied = results.flat().sort((a, b) => a - b);
      const { rows } = await direct.query<{ version: number }>(`select version from "${schema}".schema_migrations order by version`);
      expect(applied).toEqual(rows.map((r) => r.version));
      expect(new Set(applied).size).toBe(applied.length);
      // No advisory lock is left behind on any server connection.
      const locks = await direct.query(`select 1 from pg_locks where locktype = 'advisory' and granted`);
      expect(locks.rowCount).toBe(0);
    } finally {
      await dropSchema(direct, schema);
      await Promise.all([...pools, direct].map((p) => p.end()));
    }
  });
});

describe('through PgBouncer in statement mode', () => {
  let statement: TestPgBouncer;
  beforeAll(async () => {
    statement = await startPgBouncer({ mode: 'statement', poolSize: 4 });
  });
  afterAll(async () => {
    await statement?.stop();
  });

  it('migrate() fails with a PoolerModeError that names the fix, and creates nothing', async () => {
    const schema = uniqueSchemaName('pgbstmt');
    const pool = pooledTestPool(statement, { max: 2 });
    const direct = testPool({ max: 1 });
    try {
      const error = await new PostgresEventStore({ pool, schema, pooler: 'statement' }).migrate().catch((e: unknown) => e);
      expect(isPoolerModeError(error)).toBe(true);
      expect((error as Error).message).toMatch(/statement mode/);
      expect((error as Error).message).toMatch(/direct connection|pooler: 'transaction'/);
      const { rowCount } = await direct.query(`select 1 from information_schema.schemata where schema_name = $1`, [schema]);
      expect(rowCount).toBe(0);
    } finally {
      await Promise.all([pool.end(), direct.end()]);
    }
  });

  it('appends and reads, each one statement, work; a checkpoint transaction fails with a PoolerModeError', async () => {
    const schema = uniqueSchemaName('pgbstmt');
    const direct = testPool({ max: 2 });
    const pool = pooledTestPool(statement, { max: 2 });
    try {
      await new PostgresEventStore({ pool: direct, schema }).migrate();
      const store = new PostgresEventStore({ pool, schema, pooler: 'statement' });
      const id = randomUUID();
      const r = await store.appendToStream('s', [{ id, type: 'T', data: { n: 1 } }], { expectedVersion: 'no_stream' });
      expect((await store.readStream('s')).events.map((e) => e.id)).toEqual([id]);
      const ids: string[] = [];
      for await (const e of store.readAll()) ids.push(e.id);
      expect(ids).toEqual([id]);
      const checkpoints = new PostgresCheckpointStore({ pool, schema });
      await checkpoints.store('plain', r.lastGlobalPosition, null);
      const error = await checkpoints.transaction('tx', 1n, null, async () => 'never').catch((e: unknown) => e);
      expect(isPoolerModeError(error)).toBe(true);
      expect(await new PostgresCheckpointStore({ pool: direct, schema }).read('tx')).toBeNull();
      await store.close();
    } finally {
      await dropSchema(direct, schema);
      await Promise.all([pool.end(), direct.end()]);
    }
  });
});
