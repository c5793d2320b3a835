/**
 * PostgresCheckpointStore: compare-and-set checkpoints, and transactions that commit a
 * projection's own writes together with its checkpoint.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointConflictError, createProjectionRunner, type ProjectionRunner } from '@ordo/core';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import { checkpointStoreSuite, projectionRunnerSuite } from '../projections/runner-properties.js';
import { createTestStore, dropSchema, testPool, uniqueSchemaName, type TestPostgresEventStore } from '../support/postgres.js';
import { gate, waitUntil } from '../support/wait.js';

describe('PostgresCheckpointStore: the shared checkpoint suite', () => {
  const schema = uniqueSchemaName('cp');
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = testPool();
    await new PostgresCheckpointStore({ pool, schema }).migrate();
  });
  afterAll(async () => {
    await dropSchema(pool, schema);
    await pool.end();
  });
  checkpointStoreSuite(async () => new PostgresCheckpointStore({ pool, schema }));
});

describe('the projection runner on PostgresEventStore: the shared runner suite', () => {
  // One schema for the suite: each run opens its own store instance on it, as service instances
  // on one database would, and finds the events of earlier runs there (the suite allows for that).
  const schema = uniqueSchemaName('runner');
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = testPool();
    await new PostgresEventStore({ pool, schema }).migrate();
  });
  afterAll(async () => {
    await dropSchema(pool, schema);
    await pool.end();
  });
  projectionRunnerSuite(async () => new PostgresEventStore({ pool, schema, pollIntervalMs: 100 }));
});

describe('PostgresCheckpointStore transactions', () => {
  let store: TestPostgresEventStore;
  let checkpoints: PostgresCheckpointStore;
  let q: string;

  beforeEach(async () => {
    store = await createTestStore({ pollIntervalMs: 100 });
    checkpoints = store.checkpoints();
    q = `"${store.schema}"`;
    await store.pool.query(`create table ${q}.read_model (event_id uuid primary key, position bigint not null, copy text)`);
  });

  afterEach(async () => {
    await store.close();
  });

  const rows = async () =>
    (await store.pool.query<{ event_id: string; position: string; copy: string | null }>(`select * from ${q}.read_model order by position`)).rows;

  it('commits the work and the checkpoint together', async () => {
    const id = randomUUID();
    const result = await checkpoints.transaction('p', 10n, null, async (tx) => {
      await tx.query(`insert into ${q}.read_model (event_id, position) values ($1, 10)`, [id]);
      return 'done';
    });
    expect(result).toBe('done');
    expect(await checkpoints.read('p')).toBe(10n);
    expect((await rows()).map((r) => r.event_id)).toEqual([id]);

    await checkpoints.transaction('p', 11n, 10n, async (tx) => {
      await tx.query(`insert into ${q}.read_model (event_id, position) values ($1, 11)`, [randomUUID()]);
    });
    expect(await checkpoints.read('p')).toBe(11n);
    expect(await rows()).toHaveLength(2);
  });

  it('commits asynchronously unless synchronousCommit is set, for that transaction only', async () => {
    // Connections that ask for durable commits, whatever the test server's own setting.
    const pool = testPool({ options: '-c synchronous_commit=on' });
    try {
      const setting = async (client: pg.Pool | pg.PoolClient) =>
        (await client.query<{ synchronous_commit: string }>('show synchronous_commit')).rows[0]!.synchronous_commit;
      const inside = (cp: PostgresCheckpointStore, position: bigint, expected: bigint | null) =>
        cp.transaction('p', position, expected, (tx) => setting(tx));
      const fast = new PostgresCheckpointStore({ pool, schema: store.schema });
      const durable = new PostgresCheckpointStore({ pool, schema: store.schema, synchronousCommit: true });
      expect(await inside(fast, 1n, null)).toBe('off');
      expect(await inside(durable, 2n, 1n)).toBe('on');
      expect(await fast.read('p')).toBe(2n);
      // `set local`: outside these transactions the connections keep their own setting.
      const client = await pool.connect();
      try {
        expect(await setting(client)).toBe('on');
        await fast.transaction('p', 3n, 2n, async (tx) => expect(await setting(tx)).toBe('off'));
        expect(await setting(client)).toBe('on');
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it('when the work throws, rolls back the work and the checkpoint, and rethrows the same error', async () => {
    await checkpoints.store('p', 3n, null);
    const boom = new Error('read model write failed');
    const error = await checkpoints
      .transaction('p', 4n, 3n, async (tx) => {
        await tx.query(`insert into ${q}.read_model (event_id, position) values ($1, 4)`, [randomUUID()]);
        throw boom;
      })
      .catch((e: unknown) => e);
    expect(error).toBe(boom);
    expect(await checkpoints.read('p')).toBe(3n);
    expect(await rows()).toEqual([]);

    // A failed statement inside the work rolls back just the same, and the pool stays healthy.
    const sqlError = await checkpoints
      .transaction('p', 4n, 3n, async (tx) => {
        await tx.query(`insert into ${q}.read_model (event_id, position) values ($1, 4)`, [randomUUID()]);
        await tx.query('select 1/0');
      })
      .catch((e: unknown) => e);
    expect(sqlError).toMatchObject({ code: '22012' });
    expect(await checkpoints.read('p')).toBe(3n);
    expect(await rows()).toEqual([]);
    await checkpoints.transaction('p', 4n, 3n, async () => undefined);
    expect(await checkpoints.read('p')).toBe(4n);
  });

  it('on a moved checkpoint, throws CheckpointConflictError with both positions and does not run the work', async () => {
    await checkpoints.store('p', 7n, null);
    let ran = false;
    for (const expected of [null, 6n, 8n]) {
      const error = await checkpoints
        .transaction('p', 9n, expected, async () => {
          ran = true;
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointConflictError);
      expect(error).toMatchObject({ projection: 'p', expected, actual: 7n });
    }
    expect(ran).toBe(false);
    const missing = await checkpoints.transaction('none', 1n, 0n, async () => undefined).catch((e: unknown) => e);
    expect(missing).toMatchObject({ projection: 'none', expected: 0n, actual: null });
    expect(await checkpoints.read('none')).toBeNull();
  });

  it('two copies from the same checkpoint: the second waits for the first, then conflicts, and its work never runs', async () => {
    const otherPool = testPool({ max: 2 });
    try {
      const copyA = checkpoints;
      const copyB = new PostgresCheckpointStore({ pool: otherPool, schema: store.schema });
      await copyA.store('p', 1n, null);

      const inside = gate();
      const release = gate();
      const a = copyA.transaction('p', 2n, 1n, async (tx) => {
        await tx.query(`insert into ${q}.read_model (event_id, position, copy) values ($1, 2, 'a')`, [randomUUID()]);
        inside.open();
        await release.promise;
      });
      await inside.promise;
      let bRan = false;
      const b = copyB
        .transaction('p', 2n, 1n, async (tx) => {
          bRan = true;
          await tx.query(`insert into ${q}.read_model (event_id, position, copy) values ($1, 2, 'b')`, [randomUUID()]);
        })
        .catch((e: unknown) => e);

      // B is blocked on the checkpoint row that A holds.
      await waitUntil(async () => {
        const { rows: waiting } = await store.pool.query<{ n: string }>(
          `select count(*) as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%checkpoints%'`,
        );
        return waiting[0]!.n !== '0';
      }, 'the second copy to wait for the checkpoint row');
      release.open();
      await a;
      const error = await b;
      expect(error).toBeInstanceOf(CheckpointConflictError);
      expect(error).toMatchObject({ projection: 'p', expected: 1n, actual: 2n });
      expect(bRan).toBe(false);
      expect((await rows()).map((r) => r.copy)).toEqual(['a']);
      expect(await copyB.read('p')).toBe(2n);
    } finally {
      await otherPool.end();
    }
  });

  it('two runners of one transactional projection, in separate pools: every event lands in the read model exactly once', async () => {
    const otherPool = testPool({ max: 4 });
    const runners: ProjectionRunner[] = [];
    const otherStore = new PostgresEventStore({ pool: otherPool, schema: store.schema, pollIntervalMs: 100 });
    try {
      const copies = [
        { store: store as PostgresEventStore, checkpoints },
        { store: otherStore, checkpoints: new PostgresCheckpointStore({ pool: otherPool, schema: store.schema }) },
      ];
      for (const [i, copy] of copies.entries()) {
        runners.push(
          createProjectionRunner<pg.PoolClient>({
            store: copy.store,
            checkpoints: copy.checkpoints,
            projection: {
              name: 'read-model',
              streamPrefixes: ['item-'],
              async handle(event, { tx }) {
                // A second application of an event would violate the primary key and fail the runner.
                await tx.query(`insert into ${q}.read_model (event_id, position, copy) values ($1, $2, $3)`, [
                  event.id,
                  event.globalPosition.toString(),
                  String(i),
                ]);
              },
            },
          }),
        );
      }
      await Promise.all(runners.map((r) => r.start()));

      const written: string[] = [];
      await Promise.all(
        Array.from({ length: 6 }, async (_, w) => {
          for (let i = 0; i < 10; i++) {
            const events = Array.from({ length: 1 + (i % 3) }, () => ({ id: randomUUID(), type: 'Item', data: { w, i } }));
            await store.appendToStream(`item-${w}`, events, { expectedVersion: 'any' });
            written.push(...events.map((e) => e.id));
          }
        }),
      );
      await store.appendToStream('other-1', [{ id: randomUUID(), type: 'Other', data: {} }], { expectedVersion: 'any' });

      await waitUntil(async () => (await rows()).length >= written.length, `${written.length} read model rows`);
      for (const r of runners) expect(r.failure).toBeUndefined();
      const stored = await rows();
      expect(stored).toHaveLength(written.length);
      expect(new Set(stored.map((r) => r.event_id))).toEqual(new Set(written));
      // Each row was written in the transaction that moved the checkpoint to its event.
      expect(await checkpoints.read('read-model')).toBeGreaterThanOrEqual(BigInt(stored.at(-1)!.position));
      const log: string[] = [];
      for await (const e of store.readAll({ filter: { streamPrefixes: ['item-'] } })) log.push(e.id);
      expect(stored.map((r) => r.event_id)).toEqual(log);
    } finally {
      await Promise.all(runners.map((r) => r.stop()));
      await otherStore.close();
      await otherPool.end();
    }
  });
});
