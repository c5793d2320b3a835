/**
 * A database outage while appends and reads run: the test's own PostgreSQL server is shut down for
 * 3 seconds and started again. Every call either succeeds or fails with one of the two typed outage
 * errors (never a raw driver error); nothing is lost and nothing is stored twice.
 *
 * Two stores share the schema: one whose retry window (10 s, the default) outlasts the outage, and
 * one with a 300 ms window, which must give up during it. After a `StoreUnavailableError` a writer
 * checks later that its batch was not stored, and moves on with a new batch; after an
 * `AppendOutcomeUnknownError` it sends the same batch again, which must be stored exactly once.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppendOutcomeUnknownError,
  StoreUnavailableError,
  type NewEvent,
  type RecordedEvent,
} from '@ordo/core';
import { PostgresEventStore } from '@ordo/postgres';
import { startPostgres, type TestPostgresServer } from '../support/postgres-server.js';

const OUTAGE_MS = 3000;

interface Tally {
  ok: number;
  unavailable: number;
  unknown: number;
  /** Anything else: the test fails on any. */
  raw: unknown[];
}

const tally = (): Tally => ({ ok: 0, unavailable: 0, unknown: 0, raw: [] });

function record(t: Tally, error: unknown) {
  if (error instanceof AppendOutcomeUnknownError) t.unknown++;
  else if (error instanceof StoreUnavailableError) t.unavailable++;
  else t.raw.push(error);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const batchOf = (writer: number, slot: number): NewEvent[] =>
  [0, 1].map((i) => ({ id: randomUUID(), type: 'OutageTested', data: { writer, slot, i } }));

describe('PostgreSQL outage of 3 s while appends and reads run', () => {
  let server: TestPostgresServer;
  const schema = `ordo_outage_${randomUUID().replaceAll('-', '').slice(0, 12)}`;

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('each call succeeds or throws StoreUnavailableError / AppendOutcomeUnknownError; nothing lost or doubled', async () => {
    const open = (windowMs: number) =>
      new PostgresEventStore({
        connectionString: server.url,
        schema,
        retry: { windowMs },
        poolConfig: { max: 8, connectionTimeoutMillis: 1000 },
      });
    const patient = open(10_000);
    const hasty = open(300);
    await patient.migrate();

    let stopping = false;
    let outageOver = false;
    const appends = { patient: tally(), hasty: tally() };
    const reads = tally();
    /** Per stream: the ids that must be stored, in order, and the ids that must never be. */
    const expected = new Map<string, { stored: string[]; refused: string[] }>();

    async function writer(store: PostgresEventStore, t: Tally, writer: number) {
      const stream = `outage-${writer}-${randomUUID()}`;
      const book = { stored: [] as string[], refused: [] as string[] };
      expected.set(stream, book);
      let batch = batchOf(writer, 0);
      // Keep writing until the outage is over and a few more appends went through.
      for (let slot = 0, after = 0; !(outageOver && after >= 3); ) {
        try {
          await store.appendToStream(stream, batch, { expectedVersion: slot === 0 ? 'no_stream' : BigInt(2 * slot - 1) });
          t.ok++;
          book.stored.push(...batch.map((e) => e.id));
          slot++;
          if (outageOver) after++;
          batch = batchOf(writer, slot);
        } catch (error) {
          record(t, error);
          if (error instanceof StoreUnavailableError) {
            // Nothing was written: these ids must never show up; the slot gets a new batch.
            book.refused.push(...batch.map((e) => e.id));
            batch = batchOf(writer, slot);
          } else if (!(error instanceof AppendOutcomeUnknownError)) {
            return; // a raw error: the tally fails the test
          }
          // After an unknown outcome: the same batch again (absorbed if it was stored).
          await sleep(100);
        }
      }
    }

    async function reader(store: PostgresEventStore) {
      while (!stopping) {
        try {
          await store.headPosition();
          const stream = [...expected.keys()][0];
          if (stream) await store.readStream(stream, { maxCount: 10 });
          for await (const _ of store.readAll({ maxCount: 20 })) void _;
          reads.ok++;
        } catch (error) {
          record(reads, error);
          if (!(error instanceof StoreUnavailableError)) return;
        }
        await sleep(20);
      }
    }

    const writers = [
      ...[0, 1, 2].map((i) => writer(patient, appends.patient, i)),
      ...[3, 4, 5].map((i) => writer(hasty, appends.hasty, i)),
    ];
    const readers = [reader(patient), reader(hasty)];

    await sleep(300);
    const startedAt = Date.now();
    await server.halt();
    await sleep(OUTAGE_MS);
    await server.restart();
    const downMs = Date.now() - startedAt;
    outageOver = true;
    await Promise.all(writers);
    stopping = true;
    await Promise.all(readers);

    console.info(
      `outage of ${downMs} ms: appends with a 10 s window ${JSON.stringify({ ...appends.patient, raw: appends.patient.raw.length })}, ` +
        `with a 300 ms window ${JSON.stringify({ ...appends.hasty, raw: appends.hasty.raw.length })}, ` +
        `reads ${JSON.stringify({ ...reads, raw: reads.raw.length })}`,
    );
    expect([...appends.patient.raw, ...appends.hasty.raw, ...reads.raw]).toEqual([]);
    // The short window cannot outlast a 3 s outage: its writers saw the typed errors.
    expect(appends.hasty.unavailable + appends.hasty.unknown).toBeGreaterThan(0);
    expect(reads.unavailable).toBeGreaterThan(0);

    // Nothing lost, nothing twice, nothing refused stored anyway.
    const log: RecordedEvent[] = [];
    for await (const e of patient.readAll()) log.push(e);
    const logIds = log.map((e) => e.id);
    expect(new Set(logIds).size).toBe(logIds.length);
    for (const [stream, book] of expected) {
      const read = await patient.readStream(stream);
      expect(read.events.map((e) => e.id)).toEqual(book.stored);
      for (const id of book.refused) expect(logIds).not.toContain(id);
    }
    expect(logIds.length).toBe([...expected.values()].reduce((n, b) => n + b.stored.length, 0));

    await hasty.close();
    await patient.close();
  });

  it('a pool that cannot hand out a connection in time gives StoreUnavailableError with the timeout as cause, and writes nothing', async () => {
    const store = new PostgresEventStore({
      connectionString: server.url,
      schema,
      retry: { windowMs: 300 },
      poolConfig: { max: 1, connectionTimeoutMillis: 50 },
    });
    // Migrated through a pool of ordinary patience: 50 ms is for the refusal below, not for a busy machine.
    const migrator = new PostgresEventStore({ connectionString: server.url, schema });
    await migrator.migrate();
    await migrator.close();
    const held = await connectPatiently(store.pool);
    try {
      const batch = batchOf(9, 0);
      const append = await store.appendToStream('pool-timeout', batch, { expectedVersion: 'no_stream' }).catch((e: unknown) => e);
      const read = await store.readStream('pool-timeout').catch((e: unknown) => e);
      for (const error of [append, read]) {
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect(String((error as Error).cause)).toMatch(/timeout exceeded when trying to connect/i);
      }
    } finally {
      held.release();
    }
    expect(await store.readStream('pool-timeout')).toEqual({ version: null, events: [] });
    await store.close();
  });
});

/** Checks a connection out of a pool whose connect timeout is short, trying again while the machine is slow. */
async function connectPatiently(pool: pg.Pool): Promise<pg.PoolClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.connect();
    } catch (error) {
      if (attempt >= 50) throw error;
    }
  }
}
