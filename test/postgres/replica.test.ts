/**
 * The global log read from a streaming hot-standby replica while appends go to the primary. On a
 * standby, `pg_current_snapshot()` is built from the primary's transactions as replayed: every
 * transaction id the primary may have handed out and not yet ended is still running there (the
 * standby counts every id up to the newest it has seen), so the visibility horizon holds back
 * exactly as on the primary. These tests check that: a transaction held open on the primary
 * holds the replica's readers back, and concurrent writers with held transactions are delivered
 * from the replica exactly as the primary's log, once, in order.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { START, createProjectionRunner, type NewEvent, type RecordedEvent } from '@ordo/core';
import { PostgresCheckpointStore, PostgresEventStore, isReplicaLagError, schemaNames } from '@ordo/postgres';
import { uniqueSchemaName } from '../support/postgres.js';
import { recordingSubscription } from '../support/recording-subscription.js';
import { poolOn, startReplicatedServers, type ReplicatedServers } from '../support/replica.js';
import { waitUntil } from '../support/wait.js';

const event = (type = 'E'): NewEvent => ({ id: randomUUID(), type, data: { at: type } });

let servers: ReplicatedServers;
beforeAll(async () => {
  servers = await startReplicatedServers();
});
afterAll(async () => {
  await servers?.stop();
});

/** A store on the primary that reads the log from the replica, in a fresh schema, and its pools. */
async function replicatedStore() {
  const primary = poolOn(servers.primary.url, { max: 20 });
  const replica = poolOn(servers.replicaUrl, { max: 10 });
  const schema = uniqueSchemaName('replica');
  const store = new PostgresEventStore({ pool: primary, schema, replica: { pool: replica }, pollIntervalMs: 50 });
  await store.migrate();
  await store.waitForReplica(0n, { timeoutMs: 30_000 });
  const clients: pg.Client[] = [];
  return {
    store,
    primary,
    replica,
    schema,
    /** A connection to the primary, as another instance would have. */
    async connection() {
      const client = new pg.Client({ connectionString: servers.primary.url });
      await client.connect();
      clients.push(client);
      return client;
    },
    /** Calls the append function inside a transaction left open on `client`. */
    async appendInOpenTransaction(client: pg.Client, stream: string, events: NewEvent[]) {
      // Writers racing it may draw positions at the same moment ('interleaved'): nothing was
      // written, and the store would run it again; so does this.
      for (let attempt = 1; ; attempt++) {
        await client.query('begin');
        const { rows } = await client.query<{ status: string; last_position: string }>(
          `select status, last_position from "${schema}".append_events($1, 'any', null, $2::uuid[], $3::text[], $4::json[], $5::json[])`,
          [stream, events.map((e) => e.id), events.map((e) => e.type), events.map((e) => JSON.stringify(e.data)), events.map(() => '{}')],
        );
        if (rows[0]!.status === 'interleaved' && attempt < 20) {
          await client.query('rollback');
          continue;
        }
        expect(rows[0]!.status).toBe('ok');
        return BigInt(rows[0]!.last_position);
      }
    },
    /** Resolves once an append waits for the exclusive draw of global positions (see `append_events`), or `until` settles. */
    async exclusiveDrawWaiting(until: Promise<unknown>): Promise<void> {
      let over = false;
      until.then(
        () => (over = true),
        () => (over = true),
      );
      const key = schemaNames(schema).sequencerLockKey;
      // An int8 advisory key shows in pg_locks as its high and low 32 bits.
      const high = Number(BigInt.asUintN(32, key >> 32n));
      const low = Number(BigInt.asUintN(32, key));
      while (!over) {
        const { rows } = await primary.query<{ n: number }>(
          `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and mode = 'ExclusiveLock' and classid::bigint = $1 and objid::bigint = $2`,
          [high, low],
        );
        if (rows[0]!.n > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    /** Rows the replica has replayed, committed ones only, without the horizon: what a naive reader sees. */
    async replayedRows(): Promise<number> {
      const { rows } = await replica.query<{ n: number }>(`select count(*)::int as n from "${schema}".events`);
      return rows[0]!.n;
    },
    /** The log as the primary shows it (a store without a replica). */
    async primaryLog(): Promise<RecordedEvent[]> {
      const direct = new PostgresEventStore({ pool: primary, schema });
      const events: RecordedEvent[] = [];
      for await (const e of direct.readAll()) events.push(e);
      return events;
    },
    async close() {
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
      await store.close();
      await primary.query(`drop schema if exists "${schema}" cascade`);
      await Promise.all([primary.end(), replica.end()]);
    },
  };
}

describe('the global log read from a replica, behind a transaction held open on the primary', () => {
  let at: Awaited<ReturnType<typeof replicatedStore>>;
  beforeEach(async () => {
    at = await replicatedStore();
  });
  afterEach(async () => {
    await at?.close();
  });

  it('a subscriber on the replica stops at the hole, and delivers the held event in order, once, when it commits', async () => {
    const { store } = at;
    const before = event('Before');
    await store.appendToStream('s-before', [before], { expectedVersion: 'no_stream' });
    const sub = recordingSubscription(store);
    await waitUntil(() => sub.received.length === 1, 'the first event, from the replica');

    const holder = await at.connection();
    const held = event('Held');
    const heldPosition = await at.appendInOpenTransaction(holder, 's-held', [held]);
    const later = [event('Later1'), event('Later2')];
    await store.appendToStream('s-later-1', [later[0]!], { expectedVersion: 'no_stream' });
    const r2 = await store.appendToStream('s-later-2', [later[1]!], { expectedVersion: 'no_stream' });

    // The replica has replayed the later commits: a reader without the horizon would pass the hole.
    await waitUntil(async () => (await at.replayedRows()) === 3, 'the replica to replay the later events');
    await sub.idleTwice();
    expect(sub.received.map((e) => e.id)).toEqual([before.id]);
    await expect(store.waitForReplica(heldPosition, { timeoutMs: 200 })).rejects.toSatisfy(isReplicaLagError);

    await holder.query('commit');
    await store.waitForReplica(r2.lastGlobalPosition, { timeoutMs: 30_000 });
    await waitUntil(() => sub.received.length >= 4, 'the held and the later events');
    await sub.idleTwice();
    expect(sub.received.map((e) => e.id)).toEqual([before.id, held.id, later[0]!.id, later[1]!.id]);
    expect(sub.received[1]!.globalPosition).toBe(heldPosition);
    expect(sub.errors).toEqual([]);
    await sub.subscription.stop();
  });

  it('waitForReplica fails with a ReplicaLagError while replay is paused, and resolves once it resumes', async () => {
    const { store, replica } = at;
    await replica.query('select pg_wal_replay_pause()');
    try {
      const r = await store.appendToStream('s', [event()], { expectedVersion: 'no_stream' });
      const error = await store.waitForReplica(r.lastGlobalPosition, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(isReplicaLagError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'replica_lag', position: r.lastGlobalPosition });
      // Read-your-writes from the primary's point of view: the head comes from the primary.
      expect(await store.headPosition()).toBe(r.lastGlobalPosition);
      await replica.query('select pg_wal_replay_resume()');
      await store.waitForReplica(r.lastGlobalPosition, { timeoutMs: 30_000 });
      const ids: string[] = [];
      for await (const e of store.readAll()) ids.push(e.id);
      expect(ids).toHaveLength(1);
    } finally {
      await replica.query('select pg_wal_replay_resume()').catch(() => undefined);
    }
  });

  it('a projection reading from the replica, checkpoints on the primary: waitFor(an append’s position) means it is handled', async () => {
    const { store, primary, schema } = at;
    const seen: string[] = [];
    const runner = createProjectionRunner({
      store,
      checkpoints: new PostgresCheckpointStore({ pool: primary, schema }),
      projection: { name: 'replica-reader', handle: (e) => void seen.push(e.id) },
    });
    await runner.start();
    try {
      const e = event();
      const r = await store.appendToStream('s-proj', [e], { expectedVersion: 'no_stream' });
      await runner.waitFor(r.lastGlobalPosition, { timeoutMs: 30_000 });
      expect(seen).toEqual([e.id]);
      await runner.waitUntilCaughtUp({ timeoutMs: 30_000 });
    } finally {
      await runner.stop();
    }
  });
});

interface Plan {
  writers: number[];
  /** Appends held open on the primary, each committed (true) or rolled back, after the writers. */
  held: boolean[];
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  writers: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 8 }),
  held: fc.array(fc.boolean(), { maxLength: 3 }),
});

describe('concurrent writers on the primary, a subscriber on the replica (fast-check)', () => {
  it('the subscriber sees exactly the primary’s log, once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        const at = await replicatedStore();
        try {
          const sub = recordingSubscription(at.store);
          const holders = await Promise.all(plan.held.map(() => at.connection()));
          const heldPositions = await Promise.all(holders.map((c, i) => at.appendInOpenTransaction(c, `held-${i}`, [event('Held')])));
          const writing = Promise.all(
            plan.writers.map(async (count, w) => {
              for (let i = 0; i < count; i++) await at.store.appendToStream(`w-${w}`, [event(), event()], { expectedVersion: 'any' });
            }),
          );
          // A writer that keeps drawing positions at the same moment as another asks for the
          // exclusive draw, which waits for every open append: the held ones end only below. So
          // go on once the writers are done, or one of them waits for that draw.
          if (heldPositions.length > 0) await Promise.race([writing, at.exclusiveDrawWaiting(writing)]);
          else await writing;
          // While any hole is open, nothing at or after it is delivered.
          if (heldPositions.length > 0) {
            await sub.idleTwice();
            const firstHole = heldPositions.reduce((a, b) => (a < b ? a : b));
            expect(sub.received.every((e) => e.globalPosition < firstHole)).toBe(true);
          }
          await Promise.all(holders.map((c, i) => c.query(plan.held[i] ? 'commit' : 'rollback')));
          await writing;
          const log = await at.primaryLog();
          const head = log.length === 0 ? START : log[log.length - 1]!.globalPosition;
          await at.store.waitForReplica(head, { timeoutMs: 30_000 });
          await waitUntil(() => sub.received.length >= log.length, 'the replica’s subscriber to reach the primary’s log');
          await sub.idleTwice();
          expect(sub.received.map((e) => e.id)).toEqual(log.map((e) => e.id));
          expect(sub.received.map((e) => e.globalPosition)).toEqual(log.map((e) => e.globalPosition));
          expect(log).toHaveLength(plan.writers.reduce((a, b) => a + b, 0) * 2 + plan.held.filter(Boolean).length);
          expect(sub.errors).toEqual([]);
          await sub.subscription.stop();
        } finally {
          await at.close();
        }
      }),
      { numRuns: Number(process.env.ORDO_PG_PROPERTY_RUNS ?? 6), endOnFailure: true },
    );
  });
});
