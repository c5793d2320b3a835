/**
 * Projection leases on PostgreSQL: the lease suite on `PostgresCheckpointStore`, bad input, two
 * runners of one read model (two "instances", each with its own pool) where one works, the other
 * stands by and takes over from the checkpoint when the first stops, and the order lookup tables
 * run the same way.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProjectionRunner, isValidationError, type EventStore, type ProjectionRunner, type RecordedEvent } from '@ordo/core';
import { createOrderNumbers, createOrderService } from '@ordo/orders';
import { createPostgresReadModels, type PostgresReadModels } from '@ordo/orders/postgres';
import { PostgresCheckpointStore } from '@ordo/postgres';
import { orderInput } from '../projections/helpers.js';
import { leaseStoreSuite } from '../projections/lease-properties.js';
import { createTestStore, dropSchema, testPool, uniqueSchemaName } from '../support/postgres.js';
import { waitUntil } from '../support/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('PostgresCheckpointStore leases', () => {
  const schema = uniqueSchemaName('lease');
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = testPool();
    await new PostgresCheckpointStore({ pool, schema }).migrate();
  });
  afterAll(async () => {
    await dropSchema(pool, schema);
    await pool.end();
  });

  leaseStoreSuite(async () => new PostgresCheckpointStore({ pool, schema }));

  it('keeps leases in the projection_leases table, timed by the server: a lease runs out by the database clock', async () => {
    const checkpoints = new PostgresCheckpointStore({ pool, schema });
    expect(await checkpoints.acquireLease('by-server', 'a', 60_000)).toBe(true);
    const { rows } = await pool.query<{ owner: string; left: number }>(
      `select owner, extract(epoch from expires_at - now()) as left from "${schema}".projection_leases where name = 'by-server'`,
    );
    expect(rows.map((r) => r.owner)).toEqual(['a']);
    expect(Number(rows[0]!.left)).toBeGreaterThan(0);
    expect(Number(rows[0]!.left)).toBeLessThanOrEqual(60);
    // Moving the server's view of the lease (not any client clock) is what hands it over.
    expect(await checkpoints.acquireLease('by-server', 'b', 60_000)).toBe(false);
    await pool.query(`update "${schema}".projection_leases set expires_at = now() - interval '1 second' where name = 'by-server'`);
    expect(await checkpoints.acquireLease('by-server', 'b', 60_000)).toBe(true);
  });

  it('refuses a bad name, owner or ttl with a ValidationError naming it, and writes nothing', async () => {
    const checkpoints = new PostgresCheckpointStore({ pool, schema });
    const cases: [() => Promise<unknown>, string][] = [
      [() => checkpoints.acquireLease('', 'a', 1000), 'name'],
      [() => checkpoints.acquireLease('bad-owner', '', 1000), 'owner'],
      [() => checkpoints.acquireLease('bad-owner', 'x'.repeat(201), 1000), 'owner'],
      [() => checkpoints.acquireLease('bad-ttl', 'a', 0), 'ttlMs'],
      [() => checkpoints.acquireLease('bad-ttl', 'a', 1.5), 'ttlMs'],
      [() => checkpoints.acquireLease('bad-ttl', 'a', 2 ** 31), 'ttlMs'],
      [() => checkpoints.releaseLease('bad-owner', ''), 'owner'],
    ];
    for (const [call, path] of cases) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toSatisfy(isValidationError);
      expect((error as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([path]);
    }
    const { rows } = await pool.query(`select name from "${schema}".projection_leases where name like 'bad-%'`);
    expect(rows).toEqual([]);
  });
});

describe('two runners with a lease on one PostgreSQL read model', () => {
  it('one applies every batch while the other stands by; stopping it hands over from the checkpoint, each event applied once', async () => {
    const store = await createTestStore({ pollIntervalMs: 100 });
    cleanups.push(() => store.close());
    const other = await store.sibling({ pollIntervalMs: 100 }, { max: 4 });
    cleanups.push(() => other.close());
    const q = `"${store.schema}"`;
    await store.pool.query(`create table ${q}.lease_model (position bigint primary key, copy text not null)`);
    const calls: string[] = [];
    const runner = (copy: string, eventStore: EventStore, pool: pg.Pool) =>
      createProjectionRunner<pg.PoolClient>({
        store: eventStore,
        checkpoints: new PostgresCheckpointStore({ pool, schema: store.schema }),
        checkpointEvery: 7,
        lease: { ttlMs: 1000, owner: copy },
        projection: {
          name: 'lease-model',
          streamPrefixes: ['lease-'],
          async handleBatch(events, { tx }) {
            calls.push(...events.map(() => copy));
            for (const event of events) {
              await tx.query(`insert into ${q}.lease_model (position, copy) values ($1, $2)`, [event.globalPosition.toString(), copy]);
            }
          },
        },
      });
    const a = runner('a', store, store.pool);
    const b = runner('b', other.store, other.pool);
    const started: ProjectionRunner[] = [];
    cleanups.push(() => Promise.all(started.map((r) => r.stop())));
    const append = async (count: number): Promise<RecordedEvent[]> => {
      const appended: RecordedEvent[] = [];
      for (let i = 0; i < count; i++) {
        const stream = `lease-${randomUUID()}`;
        await store.appendToStream(stream, [{ id: randomUUID(), type: 'Tick', data: { i } }], { expectedVersion: 'no_stream' });
        appended.push((await store.readStream(stream)).events[0]!);
      }
      return appended;
    };

    const first = await append(20);
    started.push(a);
    await a.start();
    started.push(b);
    await b.start();
    const second = await append(20);
    const last = second[19]!.globalPosition;
    await a.waitFor(last, { timeoutMs: 30_000 });
    await b.waitFor(last, { timeoutMs: 30_000 }); // standing by, it follows the stored checkpoint
    expect(b.status().state).toBe('standby');
    expect(calls.filter((c) => c === 'b')).toEqual([]);
    const lease = await store.pool.query<{ owner: string }>(`select owner from ${q}.projection_leases where name = 'lease-model'`);
    expect(lease.rows.map((r) => r.owner)).toEqual(['a']);

    await a.stop();
    await waitUntil(() => ['running', 'catching-up'].includes(b.status().state), 'the standby to take over');
    const third = await append(20);
    await b.waitFor(third[19]!.globalPosition, { timeoutMs: 30_000 });

    const rows = (await store.pool.query<{ position: string; copy: string }>(`select position, copy from ${q}.lease_model order by position`)).rows;
    const positions = (events: RecordedEvent[]) => events.map((e) => e.globalPosition.toString());
    expect(rows.map((r) => r.position)).toEqual(positions([...first, ...second, ...third]));
    expect(rows.filter((r) => r.copy === 'b').map((r) => r.position)).toEqual(positions(third));
    // Every handler call committed: no batch was applied by both and rolled back by one.
    expect(calls.filter((c) => c === 'a')).toHaveLength(40);
    expect(calls.filter((c) => c === 'b')).toHaveLength(20);
  });
});

describe('the order lookup tables with a lease, in two instances', () => {
  it('one instance keeps both tables, the other stands by, waits on the checkpoints, and takes over when the first stops', async () => {
    const store = await createTestStore({ pollIntervalMs: 100 });
    cleanups.push(() => store.close());
    const other = await store.sibling({ pollIntervalMs: 100 }, { max: 4 });
    cleanups.push(() => other.close());
    const first = createPostgresReadModels({ store, lease: { ttlMs: 1000 } });
    const second = createPostgresReadModels({ store: other.store, pool: other.pool, schema: store.schema, lease: { ttlMs: 1000 } });
    await first.migrate();
    const numbers = createOrderNumbers({ store, checkpoints: store.checkpoints(), prefix: 'RM' });
    cleanups.push(() => Promise.all([numbers.stop(), first.stop(), second.stop()]));
    await numbers.start();
    await first.start();
    await second.start();
    const states = (models: PostgresReadModels) => [models.orderNumbers, models.notificationOutbox].map((r) => r.status().state);
    expect(states(second)).toEqual(['standby', 'standby']);

    const orders = createOrderService({ store });
    const place = async (from: number, to: number) => {
      const ids: string[] = [];
      for (let i = from; i < to; i++) ids.push((await orders.placeOrder(orderInput(`rm-${i}`))).orderId);
      for (const id of ids) await numbers.waitForNumber(id, { timeoutMs: 30_000 });
      return ids;
    };
    const before = await place(0, 10);
    await second.waitUntilCaughtUp({ timeoutMs: 30_000 }); // answered by the first instance's checkpoints
    expect(states(second)).toEqual(['standby', 'standby']);
    expect(await Promise.all(before.map(async (id) => (await second.findOrderNumber(id))?.number))).not.toContain(undefined);

    await first.stop();
    await waitUntil(() => states(second).every((s) => s !== 'standby'), 'the second instance to take over both tables');
    const after = await place(10, 20);
    await second.waitUntilCaughtUp({ timeoutMs: 30_000 });
    for (const id of [...before, ...after]) expect((await second.findOrderNumber(id))?.number).toBe((await orders.getOrder(id)).number);
  });
});
