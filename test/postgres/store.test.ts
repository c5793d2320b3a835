/**
 * What is particular to the PostgreSQL store beyond the shared contract: its connections, its
 * LISTEN connection, failures of either, and rows restored from another cluster.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  START,
  ValidationError,
  WrongExpectedVersionError,
  type NewEvent,
  type RecordedEvent,
} from '@ordo/core';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import { createTestStore, postgresUrl, testPool, type TestPostgresEventStore } from '../support/postgres.js';
import { waitUntil } from '../support/wait.js';

const event = (type = 'Tested'): NewEvent => ({ id: randomUUID(), type, data: { type } });

describe('PostgresEventStore', () => {
  let store: TestPostgresEventStore;
  let admin: pg.Client;
  /** Every connection of this test's store carries this name, the LISTEN connection too. */
  let app: string;

  beforeEach(async () => {
    app = `ordo-test-${randomUUID().slice(0, 8)}`;
    store = await createTestStore({ pollIntervalMs: 100, pool: { application_name: app } });
    admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
  });

  afterEach(async () => {
    await admin.end();
    await store.close();
  });

  /** Backends of this test's store: its LISTEN connection, and all of them. */
  async function backends(name = app) {
    const { rows } = await admin.query<{ pid: number; query: string }>(
      `select pid, query from pg_stat_activity where application_name = $1`,
      [name],
    );
    const listen = `listen "ordo_${store.schema}"`;
    return { listeners: rows.filter((r) => r.query === listen).map((r) => r.pid), all: rows.map((r) => r.pid) };
  }

  /** A live subscription on another instance (`${app}-other`), once it listens: the ids it receives. */
  async function listeningIn(other: PostgresEventStore) {
    const received: string[] = [];
    let caughtUp = false;
    const subscription = other.subscribeToAll({
      after: START,
      onEvent: (e) => {
        received.push(e.id);
      },
      onCaughtUp: () => {
        caughtUp = true;
      },
    });
    await waitUntil(async () => caughtUp && (await backends(`${app}-other`)).listeners.length === 1, 'the other instance to listen');
    return { received, subscription };
  }

  function subscribe() {
    const received: RecordedEvent[] = [];
    const errors: unknown[] = [];
    const subscription = store.subscribeToAll({
      after: START,
      onEvent: (e) => {
        received.push(e);
      },
      onError: (e) => {
        errors.push(e);
      },
    });
    return { subscription, received, errors };
  }

  it('an empty store has head position START', async () => {
    expect(await store.headPosition()).toBe(START);
    const all: RecordedEvent[] = [];
    for await (const e of store.readAll()) all.push(e);
    expect(all).toEqual([]);
  });

  it('opens one LISTEN connection while subscriptions run, and closes it when the last one stops', async () => {
    expect((await backends()).listeners).toEqual([]);
    const a = subscribe();
    const b = subscribe();
    await waitUntil(async () => (await backends()).listeners.length === 1, 'the LISTEN connection');
    await store.appendToStream('s', [event()], { expectedVersion: 'no_stream' });
    await waitUntil(() => a.received.length === 1 && b.received.length === 1, 'both subscriptions to get the event');
    await a.subscription.stop();
    expect((await backends()).listeners).toHaveLength(1);
    await b.subscription.stop();
    await waitUntil(async () => (await backends()).listeners.length === 0, 'the LISTEN connection to close');
  });

  it('a live subscription in another store instance is woken by this one’s appends', async () => {
    // No polling to speak of: only a notification can wake it.
    const other = await store.sibling({ pollIntervalMs: 60_000 }, { application_name: `${app}-other` });
    try {
      const { received, subscription } = await listeningIn(other.store);
      const e = event();
      await store.appendToStream('s', [e], { expectedVersion: 'no_stream' });
      await waitUntil(() => received.length === 1, 'the notification to wake the other instance');
      expect(received).toEqual([e.id]);
      await subscription.stop();
    } finally {
      await other.close();
    }
  });

  it('notifications to other instances are coalesced: appends within notifyIntervalMs share one more, sent when it is up or on close', async () => {
    const writer = await store.sibling({ notifyIntervalMs: 10 * 60_000 }, { application_name: `${app}-writer` });
    // Woken by notifications only: its poll interval is longer than the test.
    const other = await store.sibling({ pollIntervalMs: 10 * 60_000 }, { application_name: `${app}-other` });
    const listener = new pg.Client({ connectionString: postgresUrl() });
    const heard: number[] = [];
    let writerClosed = false;
    try {
      await listener.connect();
      listener.on('notification', () => heard.push(Date.now()));
      await listener.query(`listen "ordo_${store.schema}"`);
      const { received, subscription } = await listeningIn(other.store);
      const appended = [];
      for (let i = 0; i < 20; i++) {
        const e = event();
        appended.push(e.id);
        await writer.store.appendToStream(`burst-${i}`, [e], { expectedVersion: 'no_stream' });
      }
      // The first append was notified at once; the other 19 wait for the interval, cut short by close().
      await waitUntil(() => heard.length === 1, 'the first notification');
      await writer.close();
      writerClosed = true;
      await waitUntil(() => received.length === 20, 'the notification sent on close to wake the other instance');
      await waitUntil(() => heard.length === 2, 'the second notification');
      expect(received).toEqual(appended);
      expect(heard).toHaveLength(2);
      await subscription.stop();
    } finally {
      await listener.end();
      if (!writerClosed) await writer.close();
      await other.close();
    }
  });

  it('notifications do not queue behind the pool: a busy pool does not keep other instances asleep', async () => {
    const writer = await store.sibling({}, { max: 3, application_name: `${app}-busy` });
    // Woken by notifications only: its poll interval is longer than the test.
    const other = await store.sibling({ pollIntervalMs: 10 * 60_000 }, { application_name: `${app}-other` });
    const held: pg.PoolClient[] = [];
    try {
      const { received, subscription } = await listeningIn(other.store);
      // Two of the pool's three connections busy, and a request queued for the third: the
      // connection the append gives back goes to that request, and stays with it.
      held.push(await writer.pool.connect(), await writer.pool.connect());
      const e = event();
      const appended = writer.store.appendToStream('busy', [e], { expectedVersion: 'no_stream' });
      const queued = writer.pool.connect();
      await appended;
      held.push(await queued);
      await waitUntil(() => received.length === 1, 'the notification, sent while every pooled connection is taken');
      expect(received).toEqual([e.id]);
      await subscription.stop();
    } finally {
      for (const client of held) client.release();
      await writer.close();
      await other.close();
    }
  });

  it('a subscription outlives the loss of its LISTEN connection and of its pooled connections', async () => {
    const sub = subscribe();
    await waitUntil(async () => (await backends()).listeners.length === 1, 'the LISTEN connection');
    const first = event('First');
    await store.appendToStream('s', [first], { expectedVersion: 'no_stream' });
    await waitUntil(() => sub.received.length === 1, 'the first event');

    // Kill every connection of the store: the listener and the pooled ones.
    const before = await backends();
    for (const pid of before.all) await admin.query('select pg_terminate_backend($1)', [pid]);

    const second = event('Second');
    await waitUntil(async () => {
      try {
        await store.appendToStream('s', [second], { expectedVersion: 0n });
        return true;
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) return true; // it went through on an earlier try
        return false; // a killed pooled connection: the pool replaces it
      }
    }, 'an append after the connections were killed');
    await waitUntil(() => sub.received.length === 2, 'the second event');
    expect(sub.received.map((e) => e.id)).toEqual([first.id, second.id]);
    expect(sub.errors).toEqual([]);
    await waitUntil(async () => (await backends()).listeners.length === 1, 'a new LISTEN connection');
  });

  it('close() stops subscriptions and returns every connection it took, leaving a given pool open', async () => {
    const pool = testPool({ application_name: `${app}-own` });
    try {
      const own = new PostgresEventStore({ pool, schema: store.schema, pollIntervalMs: 100 });
      const received: string[] = [];
      const subscription = own.subscribeToAll({ onEvent: (e) => void received.push(e.id) });
      await waitUntil(async () => (await backends(`${app}-own`)).listeners.length === 1, 'the LISTEN connection');
      await own.appendToStream('s', [event()], { expectedVersion: 'no_stream' });
      await waitUntil(() => received.length === 1, 'the event');

      await own.close();
      await subscription.done;
      // The server lets go of a closed connection's backend a moment after the client closed it.
      await waitUntil(async () => (await backends(`${app}-own`)).listeners.length === 0, 'the LISTEN connection to close');
      expect(pool.ended).toBe(false);
      expect(pool.totalCount).toBe(pool.idleCount);
      await expect(own.headPosition()).rejects.toThrow(/closed/);
      // The pool is still the service's to use.
      const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from "${store.schema}".events`);
      expect(rows[0]!.n).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('reads the same whatever type parsers the service set on its pool', async () => {
    // A service that turned int8 into numbers, and timestamps and JSON into strings.
    const pool = testPool({
      types: {
        getTypeParser: ((oid: number) => (oid === 20 ? Number : (value: string) => `text:${value}`)) as pg.CustomTypesConfig['getTypeParser'],
      },
    });
    try {
      const own = new PostgresEventStore({ pool, schema: store.schema });
      const data = { n: 1, nested: { list: [1, 'two'] } };
      const result = await own.appendToStream('typed', [{ id: randomUUID(), type: 'Typed', data, metadata: { actor: 'ann' } }], {
        expectedVersion: 'no_stream',
      });
      expect(typeof result.lastGlobalPosition).toBe('bigint');
      const [read] = (await own.readStream('typed')).events;
      expect(read).toMatchObject({ data, metadata: { actor: 'ann' }, streamVersion: 0n, globalPosition: result.lastGlobalPosition });
      expect(read!.recordedAt).toBeInstanceOf(Date);
      expect(Number.isNaN(read!.recordedAt.getTime())).toBe(false);
      expect(await own.headPosition()).toBe(result.lastGlobalPosition);
      const checkpoints = new PostgresCheckpointStore({ pool, schema: store.schema });
      await checkpoints.store('typed', 5n, null);
      expect(await checkpoints.read('typed')).toBe(5n);
      expect(await own.migrate()).toEqual([]);
      await own.close();
    } finally {
      await pool.end();
    }
  });

  it('two tenant schemas with long names that share their first 50 characters work on one pool (prepared statement names differ)', async () => {
    const pool = testPool({ max: 1 });
    const stem = `ordo_tenant_${randomUUID().replaceAll('-', '')}`.padEnd(50, 'x');
    const schemas = [`${stem}_${'a'.repeat(12)}`, `${stem}_${'b'.repeat(12)}`];
    const stores = schemas.map((schema) => new PostgresEventStore({ pool, schema }));
    try {
      for (const tenant of stores) await tenant.migrate();
      // One connection: both stores prepare their statements on it.
      for (const tenant of stores) {
        await tenant.appendToStream('s', [event()], { expectedVersion: 'no_stream' });
        expect((await tenant.readStream('s')).events).toHaveLength(1);
        expect(await tenant.headPosition()).toBeGreaterThan(0n);
      }
    } finally {
      for (const tenant of stores) await tenant.close();
      for (const schema of schemas) await pool.query(`drop schema if exists "${schema}" cascade`);
      await pool.end();
    }
  });

  it('positions and versions beyond PostgreSQL bigint are refused as input, naming the field; the largest one reads past the end', async () => {
    const huge = 2n ** 64n;
    const max = 2n ** 63n - 1n;
    await expect(store.appendToStream('s', [event()], { expectedVersion: huge })).rejects.toBeInstanceOf(ValidationError);
    await store.appendToStream('s', [event()], { expectedVersion: 'no_stream' });
    await expect(store.readStream('s', { fromVersion: huge })).rejects.toMatchObject({ issues: [{ path: 'fromVersion' }] });
    expect(await store.readStream('s', { fromVersion: max })).toEqual({ version: 0n, events: [] });
    expect((await store.readStream('s', { fromVersion: max, direction: 'backwards' })).events).toHaveLength(1);
    const after: RecordedEvent[] = [];
    for await (const e of store.readAll({ after: max })) after.push(e);
    expect(after).toEqual([]);
    const beyond = async () => {
      for await (const e of store.readAll({ after: huge })) after.push(e);
    };
    await expect(beyond()).rejects.toMatchObject({ issues: [{ path: 'after' }] });
    await expect(store.checkpoints().store('c', huge, null)).rejects.toBeInstanceOf(ValidationError);
  });

  it('rows restored from another cluster (transaction ids ahead of this one) are hidden until migrate() repairs them', async () => {
    const written = [event('A'), event('B')];
    await store.appendToStream('s', written, { expectedVersion: 'no_stream' });
    // What a pg_dump of a busier cluster restored here looks like: ids this cluster has not issued.
    await admin.query(`update "${store.schema}".events set tx_id = '4294967296000'::xid8`);
    expect(await store.headPosition()).toBe(START);

    await store.migrate();

    const ids: string[] = [];
    for await (const e of store.readAll()) ids.push(e.id);
    expect(ids).toEqual(written.map((e) => e.id));
    const later = event('C');
    const r = await store.appendToStream('s', [later], { expectedVersion: 1n });
    await waitUntil(async () => (await store.headPosition()) === r.lastGlobalPosition, 'the new event to be visible');
  });

  describe('drawing global positions', () => {
    /** Calls the append function on `client`, inside whatever transaction `client` has open. */
    const callAppend = (client: pg.Client, stream: string, exclusive: boolean) =>
      client.query<{ status: string; last_position: string }>(
        `select status, last_position from "${store.schema}".append_events($1, 'any', null, array[$2::uuid], array['T'], array['{}'::json], array['{}'::json], $3)`,
        [stream, randomUUID(), exclusive],
      );

    it('appends that draw at the same moment as others are run again, drawing alone in the end', async () => {
      // A sequence that skips a value on every draw looks, to the check, like another append
      // drawing in between, every time: only the exclusive draw gets through.
      const setup = await store.appendToStream('s', [event()], { expectedVersion: 'no_stream' });
      await admin.query(`alter sequence "${store.schema}".events_global_position_seq increment by 2`);
      const result = await store.appendToStream('s', [event()], { expectedVersion: 0n });
      expect(result.nextExpectedVersion).toBe(1n);
      // Two optimistic draws were discarded (one position each), then the exclusive one kept its.
      expect(result.lastGlobalPosition - setup.lastGlobalPosition).toBe(6n);
      expect((await store.readStream('s')).events.map((e) => e.globalPosition)).toEqual([
        setup.lastGlobalPosition,
        result.lastGlobalPosition,
      ]);
      await waitUntil(async () => (await store.headPosition()) === result.lastGlobalPosition, 'the event to be visible');
    });

    it('an exclusive draw waits for the appends in flight, and holds new ones back until it commits', async () => {
      const clients = await Promise.all([0, 1, 2].map(async () => {
        const c = new pg.Client({ connectionString: postgresUrl(), application_name: `${app}-draw` });
        await c.connect();
        return c;
      }));
      const [inFlight, exclusive, later] = clients as [pg.Client, pg.Client, pg.Client];
      try {
        await inFlight.query('begin');
        const first = await callAppend(inFlight, 'a', false);
        const second = callAppend(exclusive, 'b', true);
        await waitUntil(async () => (await lockWaiters()) === 1, 'the exclusive draw to wait');
        const third = callAppend(later, 'c', false);
        await waitUntil(async () => (await lockWaiters()) === 2, 'the next append to wait behind it');
        await inFlight.query('commit');
        const [b, c] = await Promise.all([second, third]);
        expect([first.rows[0]!.status, b.rows[0]!.status, c.rows[0]!.status]).toEqual(['ok', 'ok', 'ok']);
        const positions = [first, b, c].map((r) => BigInt(r.rows[0]!.last_position));
        expect(positions[1]).toBeGreaterThan(positions[0]!);
        expect(positions[2]).toBeGreaterThan(positions[1]!);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }

      async function lockWaiters(): Promise<number> {
        const { rows } = await admin.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'`,
          [`${app}-draw`],
        );
        return rows[0]!.n;
      }
    });
  });

  describe('an append cancelled around the lock that orders transaction ids and positions', () => {
    const hurriedApp = () => `${app}-hurried`;
    let impatient: pg.Pool;
    let hurried: PostgresEventStore;

    beforeEach(() => {
      impatient = testPool({ max: 1, application_name: hurriedApp(), options: '-c statement_timeout=300' });
      hurried = new PostgresEventStore({ pool: impatient, schema: store.schema });
    });

    afterEach(async () => {
      await hurried.close();
      await impatient.end();
    });

    /** Advisory locks held by the hurried store's connection (it is idle: any would be a leak). */
    async function advisoryLocksOfHurried(): Promise<number> {
      const { rows } = await admin.query<{ n: number }>(
        `select count(*)::int as n from pg_locks l join pg_stat_activity a using (pid)
         where l.locktype = 'advisory' and a.application_name = $1`,
        [hurriedApp()],
      );
      return rows[0]!.n;
    }

    it('while waiting for the lock: nothing is held afterwards, and appends go on', async () => {
      const { rows } = await admin.query<{ def: string }>(
        // The sequencer lock is taken in append_draw, the step every append runs (schema version 2).
        `select pg_get_functiondef('"${store.schema}".append_draw'::regproc) as def`,
      );
      const key = /pg_advisory_xact_lock_shared\((-?\d+)\)/.exec(rows[0]!.def)![1]!;
      await admin.query(`select pg_advisory_lock(${key})`);
      await expect(hurried.appendToStream('s', [event()], { expectedVersion: 'any' })).rejects.toMatchObject({ code: '57014' });
      await admin.query(`select pg_advisory_unlock(${key})`);
      expect(await advisoryLocksOfHurried()).toBe(0);
      await hurried.appendToStream('s', [event()], { expectedVersion: 'no_stream' });
      expect((await store.appendToStream('s', [event()], { expectedVersion: 0n })).nextExpectedVersion).toBe(1n);
    });

    it('while holding the lock (drawing positions): the lock is released, and appends go on', async () => {
      // ALTER SEQUENCE in an open transaction makes nextval wait: the append is cancelled inside
      // the section, after it took the lock.
      await admin.query('begin');
      await admin.query(`alter sequence "${store.schema}".events_global_position_seq cache 1`);
      await expect(hurried.appendToStream('s', [event()], { expectedVersion: 'any' })).rejects.toMatchObject({ code: '57014' });
      await admin.query('rollback');
      expect(await advisoryLocksOfHurried()).toBe(0);
      expect((await store.appendToStream('s', [event()], { expectedVersion: 'no_stream' })).nextExpectedVersion).toBe(0n);
      expect((await hurried.appendToStream('s', [event()], { expectedVersion: 0n })).nextExpectedVersion).toBe(1n);
    });
  });
});
