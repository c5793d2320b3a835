/**
 * Real concurrent connections against one schema: 2–32 writers append to a few overlapping
 * streams with random expected versions, re-send their own and each other's batches (retries,
 * duplicated deliveries) and sometimes send a stored batch to another stream. A subscriber runs
 * throughout. Afterwards the log must account for every reported outcome.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DuplicateEventIdError,
  WrongExpectedVersionError,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
} from '@ordo/core';
import type { TestPostgresEventStore } from '../support/postgres.js';
import { recordingSubscription } from '../support/recording-subscription.js';
import { waitUntil } from '../support/wait.js';

const RUNS = Number(process.env.ORDO_PG_PROPERTY_RUNS ?? 20);

type Mode = { kind: 'any' } | { kind: 'no_stream' } | { kind: 'stream_exists' } | { kind: 'read' } | { kind: 'version'; version: number };

type Op =
  /** A new batch. */
  | { kind: 'new'; stream: number; size: number; mode: Mode }
  /** This writer's previous batch again, to its stream (a retry after a lost reply). */
  | { kind: 'retry-own'; mode: Mode }
  /** Some batch seen so far (any writer's), to its stream: a duplicated delivery. */
  | { kind: 'resend'; pick: number; mode: Mode }
  /** Some batch seen so far, to another stream: must never be stored twice. */
  | { kind: 'elsewhere'; pick: number; stream: number };

const modeArb: fc.Arbitrary<Mode> = fc.oneof(
  fc.constant<Mode>({ kind: 'any' }),
  fc.constant<Mode>({ kind: 'no_stream' }),
  fc.constant<Mode>({ kind: 'stream_exists' }),
  fc.constant<Mode>({ kind: 'read' }),
  fc.constant<Mode>({ kind: 'read' }),
  fc.integer({ min: 0, max: 6 }).map((version): Mode => ({ kind: 'version', version })),
);

/** Mostly small batches; now and then a large one, whose positions take longer to draw. */
const sizeArb = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 20, max: 80 }) });

interface Plan {
  streams: number;
  writers: Op[][];
}

const planArb: fc.Arbitrary<Plan> = fc.integer({ min: 1, max: 4 }).chain((streams) =>
  fc.record({
    streams: fc.constant(streams),
    writers: fc.array(
      fc.array(
        fc.oneof(
          { weight: 5, arbitrary: fc.record({ kind: fc.constant('new' as const), stream: fc.nat(streams - 1), size: sizeArb, mode: modeArb }) },
          { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry-own' as const), mode: modeArb }) },
          { weight: 2, arbitrary: fc.record({ kind: fc.constant('resend' as const), pick: fc.nat(), mode: modeArb }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('elsewhere' as const), pick: fc.nat(), stream: fc.nat(streams - 1) }) },
        ),
        { minLength: 1, maxLength: 6 },
      ),
      { minLength: 2, maxLength: 32 },
    ),
  }),
);

interface Batch {
  key: number;
  stream: string;
  events: NewEvent[];
}

type Outcome =
  | { kind: 'ok'; result: AppendResult }
  | { kind: 'conflict'; error: WrongExpectedVersionError }
  | { kind: 'duplicate'; error: DuplicateEventIdError };

interface Attempt {
  batch: Batch;
  stream: string;
  expected: ExpectedVersion;
  outcome: Outcome;
}

/**
 * The property, on stores from `open` (a fresh schema each run) and a sibling instance of each:
 * directly (`concurrency.property.test.ts`) and through PgBouncer (`pgbouncer-suites.test.ts`).
 */
export function concurrentWritersProperty(label: string, open: () => Promise<TestPostgresEventStore>, runs = RUNS): void {
  describe(`concurrent writers on real connections (fast-check)${label}`, () => {
    it('every outcome is accounted for by the log, and a subscriber sees exactly the log', async () => {
      await fc.assert(
        fc.asyncProperty(planArb, async (plan) => {
          const store = await open();
          const other = await store.sibling({ pollIntervalMs: 100 });
          try {
            await runPlan(store, [store, other.store], plan);
          } finally {
            await other.close();
            await store.close();
          }
        }),
        { numRuns: runs, endOnFailure: true },
      );
    });
  });
}

async function runPlan(store: TestPostgresEventStore, writersStores: EventStore[], plan: Plan) {
  const streams = Array.from({ length: plan.streams }, (_, i) => `s${i}`);
  const { subscription, received, errors, idleTwice } = recordingSubscription(store);
  try {
    const batches: Batch[] = [];
    const attempts: Attempt[] = [];

    async function attempt(writerStore: EventStore, batch: Batch, stream: string, mode: Mode) {
      let expected: ExpectedVersion;
      if (mode.kind === 'read') expected = (await writerStore.readStream(stream, { maxCount: 0 })).version ?? 'no_stream';
      else if (mode.kind === 'version') expected = BigInt(mode.version);
      else expected = mode.kind;
      let outcome: Outcome;
      try {
        outcome = { kind: 'ok', result: await writerStore.appendToStream(stream, batch.events, { expectedVersion: expected }) };
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) outcome = { kind: 'conflict', error };
        else if (error instanceof DuplicateEventIdError) outcome = { kind: 'duplicate', error };
        else throw error; // anything else fails the property: driver errors must never reach callers
      }
      attempts.push({ batch, stream, expected, outcome });
    }

    await Promise.all(
      plan.writers.map(async (ops, w) => {
        const writerStore = writersStores[w % writersStores.length]!;
        let own: Batch | undefined;
        for (const op of ops) {
          if (op.kind === 'new' || (op.kind === 'retry-own' && !own)) {
            const size = op.kind === 'new' ? op.size : 1;
            const stream = streams[op.kind === 'new' ? op.stream : w % streams.length]!;
            own = {
              key: batches.length,
              stream,
              events: Array.from({ length: size }, (_, i) => ({ id: randomUUID(), type: 'Wrote', data: { w, i } })),
            };
            batches.push(own);
            await attempt(writerStore, own, stream, op.mode);
          } else if (op.kind === 'retry-own') {
            await attempt(writerStore, own!, own!.stream, op.mode);
          } else if (batches.length > 0) {
            const batch = batches[op.pick % batches.length]!;
            if (op.kind === 'resend') await attempt(writerStore, batch, batch.stream, op.mode);
            else {
              const target = streams[op.stream]!;
              const elsewhere = target === batch.stream ? `${target}-elsewhere` : target;
              await attempt(writerStore, batch, elsewhere, { kind: 'any' });
            }
          }
        }
      }),
    );

    // ---- the log as it is now -------------------------------------------------------------
    // Every reported append is in the log once no older transaction runs: a store's notification
    // (a transaction of its own, with an id) may still be committing, and holds the horizon that
    // long. Gap-free means visible in position order, not at the instant the append returned.
    const reportedHead = attempts.reduce((max, a) => (a.outcome.kind === 'ok' && a.outcome.result.lastGlobalPosition > max ? a.outcome.result.lastGlobalPosition : max), 0n);
    await waitUntil(async () => (await store.headPosition()) >= reportedHead, 'the log to show every reported append');
    const log: RecordedEvent[] = [];
    for await (const e of store.readAll()) log.push(e);
    const byId = new Map(log.map((e) => [e.id, e]));
    expect(byId.size, 'no event id twice in the log').toBe(log.length);
    for (let i = 1; i < log.length; i++) expect(log[i]!.globalPosition).toBeGreaterThan(log[i - 1]!.globalPosition);

    // Every stream: versions contiguous from 0, the same events as the log, in the same order.
    const streamNames = new Set(log.map((e) => e.streamName));
    for (const name of streamNames) {
      const read = await store.readStream(name);
      expect(read.events.map((e) => e.streamVersion)).toEqual(read.events.map((_, i) => BigInt(i)));
      expect(read.version).toBe(BigInt(read.events.length - 1));
      expect(read.events).toEqual(log.filter((e) => e.streamName === name));
    }

    // Every reported outcome matches the log.
    const stored = new Map<number, AppendResult>();
    /** How many successes of each batch said they wrote it (`duplicate: false`): exactly one. */
    const writtenBy = new Map<number, number>();
    for (const a of attempts) {
      const ids = a.batch.events.map((e) => e.id);
      const found = ids.map((id) => byId.get(id));
      const isStored = found.every((e) => e !== undefined);
      expect(isStored || found.every((e) => e === undefined), 'a batch is stored whole or not at all').toBe(true);
      switch (a.outcome.kind) {
        case 'ok': {
          const { result } = a.outcome;
          expect(isStored, 'a reported success is in the log').toBe(true);
          expect(found.map((e) => e!.streamName)).toEqual(ids.map(() => a.stream));
          const first = result.nextExpectedVersion - BigInt(ids.length - 1);
          expect(found.map((e) => e!.streamVersion)).toEqual(ids.map((_, i) => first + BigInt(i)));
          expect(found.at(-1)!.globalPosition).toBe(result.lastGlobalPosition);
          const earlier = stored.get(a.batch.key);
          const { duplicate: _, ...same } = result;
          if (earlier) expect(same, 'every success of one batch reports the same result').toEqual({ ...earlier, duplicate: undefined });
          stored.set(a.batch.key, { ...same, duplicate: undefined } as unknown as AppendResult);
          if (!result.duplicate) writtenBy.set(a.batch.key, (writtenBy.get(a.batch.key) ?? 0) + 1);
          break;
        }
        case 'conflict': {
          // Wrote nothing: the batch is absent, or stored by a success reported elsewhere.
          const { error } = a.outcome;
          expect(error.stream).toBe(a.stream);
          expect(error.expected).toBe(a.expected);
          if (isStored) expect(attempts.some((b) => b.batch === a.batch && b.outcome.kind === 'ok')).toBe(true);
          if (a.expected === 'no_stream') expect(error.actual).not.toBeNull();
          if (a.expected === 'stream_exists') expect(error.actual).toBeNull();
          if (typeof a.expected === 'bigint') expect(error.actual).not.toBe(a.expected);
          const final = log.filter((e) => e.streamName === a.stream).length;
          if (error.actual !== null) expect(error.actual).toBeLessThan(BigInt(final));
          break;
        }
        case 'duplicate': {
          // Only when the batch is stored in another stream.
          expect(isStored).toBe(true);
          expect(found[0]!.streamName).not.toBe(a.stream);
          expect(ids).toContain(a.outcome.error.eventId);
          break;
        }
      }
    }
    // Every stored batch: exactly one caller was told it wrote it, the others that it was a duplicate.
    for (const key of stored.keys()) expect(writtenBy.get(key) ?? 0, 'exactly one success per batch says duplicate: false').toBe(1);
    // Nothing in the log that no one was told was written.
    const reported = new Set(attempts.filter((a) => a.outcome.kind === 'ok').flatMap((a) => a.batch.events.map((e) => e.id)));
    expect(log.filter((e) => !reported.has(e.id))).toEqual([]);

    // Transaction ids and positions are in the same order: what the fence relies on.
    const { rows } = await store.pool.query<{ n: string }>(
      `select count(*) as n from "${store.schema}".events a join "${store.schema}".events b
         on a.tx_id < b.tx_id and a.global_position > b.global_position`,
    );
    expect(rows[0]!.n).toBe('0');

    // The subscriber saw exactly the log, in order, each event once.
    await waitUntil(() => received.length >= log.length || errors.length > 0, `the subscriber to receive ${log.length} events`);
    await idleTwice();
    expect(errors).toEqual([]);
    expect(received.map((e) => e.id)).toEqual(log.map((e) => e.id));
    expect(received).toEqual(log);
  } finally {
    await subscription.stop();
  }
}
