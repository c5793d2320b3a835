/**
 * The contract of `appendToStreams`, run by every store as part of the EventStore contract: all or
 * nothing, every stream's expected version checked, one contiguous run in the global log, a
 * repeated call absorbed as a whole, and bad input refused before anything is written. A store
 * that cannot append atomically to several streams must say so with `UnsupportedOperationError`.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DuplicateEventIdError,
  PartialRetryError,
  UnsupportedOperationError,
  ValidationError,
  WrongExpectedVersionError,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
  type StreamAppendRequest,
  type Subscription,
} from '../../index.js';

/** Whether the store under test appends atomically to several streams. */
export type MultiStreamSupport = 'supported' | 'unsupported';

const WAIT_MS = 10_000;

/**
 * Declares the `appendToStreams` contract as vitest suites: all or nothing, per-stream expected
 * versions, retries absorbed whole, partial retries refused, order in the global log; or, for a
 * store that cannot append atomically to several streams, that it refuses and writes nothing.
 */
export function describeMultiStreamContract(name: string, open: () => Promise<EventStore>, support: MultiStreamSupport): void {
  describe(`appendToStreams: ${name}`, () => {
    let store: EventStore;
    let prefix: string;
    let start: bigint;
    const subscriptions: Subscription[] = [];

    beforeEach(async () => {
      store = await open();
      prefix = `ms${randomUUID().replaceAll('-', '').slice(0, 16)}-`;
      start = await store.headPosition();
    });
    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      await store?.close();
    });

    const stream = (suffix: string) => `${prefix}${suffix}`;
    const event = (type = 'MultiTested', data: unknown = { n: 1 }): NewEvent => ({ id: randomUUID(), type, data, metadata: { actor: 'contract', n: 1 } });
    const events = (count: number) => Array.from({ length: count }, (_, i) => event('MultiTested', { i }));
    const ids = (list: readonly { id: string }[]) => list.map((e) => e.id);

    async function ownLog(): Promise<RecordedEvent[]> {
      const out: RecordedEvent[] = [];
      for await (const e of store.readAll({ after: start, filter: { streamPrefixes: [prefix] } })) out.push(e);
      return out;
    }
    async function visible(position: bigint) {
      await waitUntil(async () => (await store.headPosition()) >= position, `head position ${position}`);
    }
    async function streamIds(s: string) {
      return ids((await store.readStream(s)).events);
    }

    if (support === 'unsupported') {
      it('throws UnsupportedOperationError and writes nothing', async () => {
        const error = await rejection(
          store.appendToStreams([
            { stream: stream('a'), events: events(1), expectedVersion: 'no_stream' },
            { stream: stream('b'), events: events(1), expectedVersion: 'no_stream' },
          ]),
          UnsupportedOperationError,
        );
        expect(error.code).toBe('unsupported_operation');
        expect(error.operation).toBe('appendToStreams');
        expect(await store.readStream(stream('a'))).toEqual({ version: null, events: [] });
        expect(await store.readStream(stream('b'))).toEqual({ version: null, events: [] });
      });
      return;
    }

    it('writes every request; events of one call are contiguous in the log, in request order', async () => {
      const [a, b, c] = [stream('a'), stream('b'), stream('c')];
      await store.appendToStream(b, events(2), { expectedVersion: 'no_stream' });
      const call: StreamAppendRequest[] = [
        { stream: a, events: events(2), expectedVersion: 'no_stream' },
        { stream: b, events: events(1), expectedVersion: 1n },
        { stream: c, events: events(3), expectedVersion: 'any' },
      ];
      const result = await store.appendToStreams(call);
      expect(result.duplicate).toBe(false);
      expect(result.streams.map((s) => [s.stream, s.nextExpectedVersion])).toEqual([[a, 1n], [b, 2n], [c, 2n]]);
      await visible(result.lastGlobalPosition);
      const log = (await ownLog()).slice(2);
      expect(ids(log)).toEqual(call.flatMap((r) => ids(r.events)));
      expect(result.lastGlobalPosition).toBe(log[log.length - 1]!.globalPosition);
      for (const outcome of result.streams) {
        const read = await store.readStream(outcome.stream);
        expect(read.version).toBe(outcome.nextExpectedVersion);
        expect(read.events[read.events.length - 1]!.globalPosition).toBe(outcome.lastGlobalPosition);
      }
      // Nothing else can sit between them: they are adjacent in the whole log, not only in ours.
      const whole: RecordedEvent[] = [];
      for await (const e of store.readAll({ after: log[0]!.globalPosition - 1n, maxCount: log.length })) whole.push(e);
      expect(ids(whole)).toEqual(ids(log));
      expect((await store.readStream(a)).events[0]!.metadata).toMatchObject({ actor: 'contract', n: 1 });
    });

    for (const failing of [0, 1, 2]) {
      it(`a conflict in request ${failing} of 3 writes nothing, and the error names that stream and its version`, async () => {
        const streams = [stream('a'), stream('b'), stream('c')];
        for (const s of streams) await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
        const before = await ownLog();
        const error = await rejection(
          store.appendToStreams(
            streams.map((s, i) => ({ stream: s, events: events(2), expectedVersion: i === failing ? 5n : 0n })),
          ),
          WrongExpectedVersionError,
        );
        expect(error.streams).toEqual([{ stream: streams[failing], expected: 5n, actual: 0n }]);
        expect([error.stream, error.expected, error.actual]).toEqual([streams[failing], 5n, 0n]);
        for (const s of streams) expect((await store.readStream(s)).version).toBe(0n);
        expect(ids(await ownLog())).toEqual(ids(before));
      });
    }

    it('conflicts in two streams are both named', async () => {
      const [a, b, c] = [stream('a'), stream('b'), stream('c')];
      await store.appendToStream(a, events(1), { expectedVersion: 'no_stream' });
      const error = await rejection(
        store.appendToStreams([
          { stream: a, events: events(1), expectedVersion: 'no_stream' },
          { stream: b, events: events(1), expectedVersion: 'no_stream' },
          { stream: c, events: events(1), expectedVersion: 'stream_exists' },
        ]),
        WrongExpectedVersionError,
      );
      expect(error.streams).toEqual([
        { stream: a, expected: 'no_stream', actual: 0n },
        { stream: c, expected: 'stream_exists', actual: null },
      ]);
      expect(await store.readStream(b)).toEqual({ version: null, events: [] });
    });

    const modes: [string, ExpectedVersion, bigint | null, boolean][] = [
      ['any on a new stream', 'any', null, true],
      ['any on an existing stream', 'any', 1n, true],
      ['no_stream on a new stream', 'no_stream', null, true],
      ['no_stream on an existing stream', 'no_stream', 1n, false],
      ['stream_exists on an existing stream', 'stream_exists', 1n, true],
      ['stream_exists on a new stream', 'stream_exists', null, false],
      ['the exact version', 1n, 1n, true],
      ['a version behind', 0n, 1n, false],
      ['a version ahead', 2n, 1n, false],
      ['a version on a new stream', 0n, null, false],
    ];
    for (const [label, expected, actual, ok] of modes) {
      it(`per-stream expected version: ${label} ${ok ? 'writes' : 'conflicts'}`, async () => {
        const [target, other] = [stream('target'), stream('other')];
        if (actual !== null) await store.appendToStream(target, events(Number(actual) + 1), { expectedVersion: 'no_stream' });
        const call = [
          { stream: other, events: events(1), expectedVersion: 'no_stream' as const },
          { stream: target, events: events(1), expectedVersion: expected },
        ];
        if (ok) {
          const result = await store.appendToStreams(call);
          expect(result.streams[1]!.nextExpectedVersion).toBe(actual === null ? 0n : actual + 1n);
          expect(await streamIds(other)).toEqual(ids(call[0]!.events));
        } else {
          const error = await rejection(store.appendToStreams(call), WrongExpectedVersionError);
          expect(error.streams).toEqual([{ stream: target, expected, actual }]);
          expect(await store.readStream(other)).toEqual({ version: null, events: [] });
          expect((await store.readStream(target)).version).toBe(actual);
        }
      });
    }

    it('a repeated call is absorbed as a whole and reported as a duplicate with the first outcome', async () => {
      const [a, b] = [stream('a'), stream('b')];
      const call: StreamAppendRequest[] = [
        { stream: a, events: events(2), expectedVersion: 'no_stream' },
        { stream: b, events: events(1), expectedVersion: 'no_stream' },
      ];
      const first = await store.appendToStreams(call);
      const again = await store.appendToStreams(call);
      expect(again).toEqual({ ...first, duplicate: true });
      // Also once the streams have moved on: the ids say it is the same call.
      await store.appendToStream(a, events(1), { expectedVersion: 1n });
      expect(await store.appendToStreams(call)).toEqual({ ...first, duplicate: true });
      expect(await streamIds(a)).toHaveLength(3);
      expect(await streamIds(b)).toEqual(ids(call[1]!.events));
    });

    it('a call that repeats only part of a stored call is refused with PartialRetryError, and writes nothing', async () => {
      const [a, b, c] = [stream('a'), stream('b'), stream('c')];
      const stored = { stream: a, events: events(1), expectedVersion: 'no_stream' as const };
      await store.appendToStreams([stored, { stream: b, events: events(1), expectedVersion: 'no_stream' }]);
      const before = await ownLog();
      const error = await rejection(
        store.appendToStreams([stored, { stream: c, events: events(1), expectedVersion: 'no_stream' }]),
        PartialRetryError,
      );
      expect(error.storedIn).toEqual([a]);
      expect(error.missingFrom).toEqual([c]);
      expect(await store.readStream(c)).toEqual({ version: null, events: [] });
      expect(ids(await ownLog())).toEqual(ids(before));
    });

    it('an id already stored in another stream is a DuplicateEventIdError, and nothing is written', async () => {
      const [a, b, c] = [stream('a'), stream('b'), stream('c')];
      const taken = event();
      await store.appendToStream(a, [taken], { expectedVersion: 'no_stream' });
      await rejection(
        store.appendToStreams([
          { stream: b, events: events(1), expectedVersion: 'no_stream' },
          { stream: c, events: [event(), taken], expectedVersion: 'no_stream' },
        ]),
        DuplicateEventIdError,
      );
      expect(await store.readStream(b)).toEqual({ version: null, events: [] });
      expect(await store.readStream(c)).toEqual({ version: null, events: [] });
    });

    it('a subscriber never sees part of a call: each call arrives whole, in one run, while calls race', async () => {
      const received: RecordedEvent[] = [];
      const torn: string[] = [];
      let caughtUp = false;
      const lastOfCall = new Map<string, { stream: string; id: string }>();
      subscriptions.push(
        store.subscribeToAll({
          after: start,
          filter: { streamPrefixes: [prefix] },
          async onEvent(e) {
            received.push(e);
            // When the first event of a call arrives, its last one is already stored.
            const last = lastOfCall.get(e.id);
            if (last && !(await streamIds(last.stream)).includes(last.id)) torn.push(e.id);
          },
          onCaughtUp: () => void (caughtUp = true),
        }),
      );
      await waitUntil(() => caughtUp, 'the subscription to catch up');
      const names = [stream('x'), stream('y'), stream('z')];
      const calls: StreamAppendRequest[][] = [];
      for (let w = 0; w < 6; w++) {
        const call = [names[w % 3]!, names[(w + 1) % 3]!].map((s) => ({ stream: s, events: events(2), expectedVersion: 'any' as const }));
        lastOfCall.set(call[0]!.events[0]!.id, { stream: call[1]!.stream, id: call[1]!.events[1]!.id });
        calls.push(call);
      }
      await Promise.all(calls.map((call) => store.appendToStreams(call)));
      await waitUntil(() => received.length >= 24, '24 events');
      expect(torn).toEqual([]);
      const order = ids(received);
      for (const call of calls) {
        const callIds = call.flatMap((r) => ids(r.events));
        const at = order.indexOf(callIds[0]!);
        expect(order.slice(at, at + callIds.length)).toEqual(callIds);
      }
      expect(order).toEqual(ids(await ownLog()));
    });

    describe('bad input throws ValidationError naming the field, and nothing is written', () => {
      const cases: [string, () => StreamAppendRequest[], string][] = [
        ['no requests', () => [], 'requests'],
        ['the same stream twice', () => [
          { stream: stream('a'), events: events(1), expectedVersion: 'any' },
          { stream: stream('a'), events: events(1), expectedVersion: 'any' },
        ], 'requests.1.stream'],
        ['a bad event type in the second request', () => [
          { stream: stream('a'), events: events(1), expectedVersion: 'any' },
          { stream: stream('b'), events: [{ ...event(), type: 'no spaces' }], expectedVersion: 'any' },
        ], 'requests.1.events.0.type'],
        ['a bad stream name', () => [
          { stream: stream('a'), events: events(1), expectedVersion: 'any' },
          { stream: '$system', events: events(1), expectedVersion: 'any' },
        ], 'requests.1.stream'],
        ['a request without events', () => [
          { stream: stream('a'), events: events(1), expectedVersion: 'any' },
          { stream: stream('b'), events: [], expectedVersion: 'any' },
        ], 'requests.1.events'],
        ['one id in two requests', () => {
          const shared = event();
          return [
            { stream: stream('a'), events: [shared], expectedVersion: 'any' },
            { stream: stream('b'), events: [{ ...shared }], expectedVersion: 'any' },
          ];
        }, 'requests.1.events.0.id'],
        ['more streams than the limit (100)', () =>
          Array.from({ length: 101 }, (_, i) => ({ stream: stream(`s${i}`), events: events(1), expectedVersion: 'any' as const })),
        'requests'],
        ['more bytes in all than the limit (16 MiB)', () =>
          Array.from({ length: 20 }, (_, i) => ({
            stream: stream(`big${i}`),
            events: [event('Large', { blob: 'z'.repeat(900 * 1024) })],
            expectedVersion: 'any' as const,
          })),
        'requests'],
      ];
      for (const [label, make, path] of cases) {
        it(label, async () => {
          const requests = make();
          const error = await rejection(store.appendToStreams(requests), ValidationError);
          expect(error.issues.map((i) => i.path)).toContain(path);
          for (const r of requests) expect((await store.readStream(r.stream).catch(() => ({ version: null }))).version).toBe(null);
          expect(await ownLog()).toEqual([]);
        });
      }
    });
  });
}

async function rejection<E>(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => E): Promise<E> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(errorClass);
    return error as E;
  }
  throw new Error(`expected a rejection with ${errorClass.name}, got ${String(value)}`);
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
