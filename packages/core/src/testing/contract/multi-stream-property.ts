/**
 * Racing writers that append to overlapping sets of streams with `appendToStreams`, re-sending some
 * calls (a lost reply) and sometimes part of one: every call is all or nothing, stream versions
 * stay contiguous, no event is lost or stored twice, each call is one run of the global log, and a
 * subscriber sees exactly the stored log.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import {
  PartialRetryError,
  WrongExpectedVersionError,
  type EventStore,
  type ExpectedVersion,
  type RecordedEvent,
  type StreamAppendRequest,
} from '../../index.js';
import { waitUntil } from './wait.js';

type Mode = 'any' | 'no_stream' | 'read';

interface CallPlan {
  streams: number[];
  sizes: number[];
  mode: Mode;
  /** Send the call again after it returned (a reply lost on the way). */
  resend: boolean;
  /** Then send its first request alone with a new one: a partial retry. */
  partial: boolean;
}

const callArb = (streams: number): fc.Arbitrary<CallPlan> =>
  fc.record({
    streams: fc.uniqueArray(fc.nat(streams - 1), { minLength: 1, maxLength: Math.min(3, streams) }),
    sizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }),
    mode: fc.constantFrom<Mode>('any', 'no_stream', 'read', 'read'),
    resend: fc.boolean(),
    partial: fc.boolean(),
  });

const planArb = fc.integer({ min: 2, max: 5 }).chain((streams) =>
  fc.record({
    streams: fc.constant(streams),
    writers: fc.array(fc.array(callArb(streams), { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 16 }),
  }),
);

/** What one writer's call came to. */
interface Sent {
  requests: StreamAppendRequest[];
  ok: boolean;
}

/**
 * The property over a store: `writers(n)` gives the stores the writers use (one per writer, or one
 * shared), `reader` the store the checks and the subscriber read through.
 */
export function multiStreamRaceProperty(
  name: string,
  setUp: (writers: number) => Promise<{ reader: EventStore; writers: EventStore[]; close(): Promise<void> }>,
  runs: number,
): void {
  it(`property: ${name}: racing multi-stream writers: all or nothing, contiguous versions, nothing lost or doubled, one run each, subscriber sees the log`, async () => {
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        const env = await setUp(plan.writers.length);
        try {
          await runPlan(env.reader, env.writers, plan);
        } finally {
          await env.close();
        }
      }),
      { numRuns: runs, endOnFailure: true },
    );
  });
}

async function runPlan(reader: EventStore, writers: EventStore[], plan: { streams: number; writers: CallPlan[][] }) {
  const prefix = `mp${randomUUID().replaceAll('-', '').slice(0, 12)}-`;
  const names = Array.from({ length: plan.streams }, (_, i) => `${prefix}s${i}`);
  const start = await reader.headPosition();
  const received: RecordedEvent[] = [];
  let idle = 0; // times the subscriber reported being caught up
  const subscription = reader.subscribeToAll({
    after: start,
    filter: { streamPrefixes: [prefix] },
    onEvent: (e) => void received.push(e),
    onCaughtUp: () => void idle++,
  });
  const sent: Sent[] = [];

  async function send(store: EventStore, requests: StreamAppendRequest[]) {
    try {
      await store.appendToStreams(requests);
      sent.push({ requests, ok: true });
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError || error instanceof PartialRetryError)) throw error;
      sent.push({ requests, ok: false });
    }
  }

  try {
    await Promise.all(
      plan.writers.map(async (calls, w) => {
        const store = writers[w % writers.length]!;
        for (const call of calls) {
          const requests: StreamAppendRequest[] = [];
          for (const [i, s] of call.streams.entries()) {
            let expectedVersion: ExpectedVersion = call.mode === 'read' ? 'any' : call.mode;
            if (call.mode === 'read') expectedVersion = (await store.readStream(names[s]!)).version ?? 'no_stream';
            const events = Array.from({ length: call.sizes[i]! }, (_, n) => ({ id: randomUUID(), type: 'Raced', data: { w, n } }));
            requests.push({ stream: names[s]!, events, expectedVersion });
          }
          await send(store, requests);
          if (call.resend) await send(store, requests);
          if (call.partial && requests.length > 0) {
            const other = names.find((n) => !requests.some((r) => r.stream === n));
            if (other) await send(store, [requests[0]!, { stream: other, events: [{ id: randomUUID(), type: 'Raced', data: {} }], expectedVersion: 'any' }]);
          }
        }
      }),
    );

    // The stored log, stream by stream and as a whole.
    const log: RecordedEvent[] = [];
    for await (const e of reader.readAll({ after: start, filter: { streamPrefixes: [prefix] } })) log.push(e);
    const position = new Map(log.map((e, i) => [e.id, i]));
    expect(position.size).toBe(log.length); // no id twice
    for (const name of names) {
      const read = await reader.readStream(name);
      expect(read.events.map((e) => e.streamVersion)).toEqual(read.events.map((_, i) => BigInt(i)));
    }
    // Every call is all or nothing: an event is stored exactly when a call that sent it succeeded (a
    // partial retry sends events of an earlier call again). A successful call is one run of the
    // log, in request order.
    const groups = [...new Set(sent.map((s) => s.requests))];
    const succeeded = groups.filter((requests) => sent.some((s) => s.requests === requests && s.ok));
    const stored = new Set(succeeded.flatMap((requests) => requests.flatMap((r) => r.events.map((e) => e.id))));
    for (const requests of groups) {
      for (const r of requests) for (const e of r.events) expect(position.has(e.id)).toBe(stored.has(e.id));
    }
    for (const requests of succeeded) {
      const ids = requests.flatMap((r) => r.events.map((e) => e.id));
      const at = position.get(ids[0]!)!;
      expect(log.slice(at, at + ids.length).map((e) => e.id)).toEqual(ids);
      for (const r of requests) for (const e of r.events) expect(log[position.get(e.id)!]!.streamName).toBe(r.stream);
    }
    // Nothing stored that no call sent.
    expect(log.every((e) => stored.has(e.id))).toBe(true);
    // The subscriber saw exactly the stored log.
    await waitUntil(() => received.length >= log.length && idle > 0, 'the subscriber to receive the log');
    expect(received.map((e) => e.id)).toEqual(log.map((e) => e.id));
  } finally {
    await subscription.stop();
  }
}
