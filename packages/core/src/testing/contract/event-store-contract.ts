/**
 * The EventStore contract: one suite that every store runs unchanged (the in-memory store, and the
 * PostgreSQL and EventStoreDB adapters, also against a real server that already holds events and
 * serves other writers).
 *
 * So that it holds on such a server, every test:
 * - writes only to streams under its own random prefix;
 * - reads the global log only after the head position taken at its start, filtered by that prefix;
 * - assumes nothing about positions except that they increase (not dense, not starting at 1);
 * - waits until its own writes are visible (`headPosition()` reaches them) before reading the log.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DuplicateEventIdError,
  ValidationError,
  WrongExpectedVersionError,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type LogFilter,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../../index.js';
import { describeMultiStreamContract, type MultiStreamSupport } from './multi-stream-contract.js';

const WAIT_MS = 10_000;
/** How long a test watches for a delivery that must not happen. */
const QUIET_MS = 150;

/** What a store under the contract offers beyond the basics. */
export interface ContractOptions {
  /** Whether `appendToStreams` is atomic (`supported`, the default) or refused with `UnsupportedOperationError`. */
  multiStream?: MultiStreamSupport;
  /**
   * How `AppendResult.duplicate` is reported. `exact` (the default): of callers sending one batch at
   * once, exactly one hears `false`. `when-detected`: `true` only when the store knows the batch was
   * stored before the call, so several racing callers may hear `false`, but never all `true`. For a
   * store whose server absorbs a retry with the same answer as the original write (EventStoreDB).
   */
  duplicates?: 'exact' | 'when-detected';
}

/**
 * Declares the `EventStore` contract as vitest suites for a store: appends with every expected
 * version, idempotent retries (also deep ones), atomic batches, the gap-free global log, reads and
 * subscriptions, strict input; plus the multi-stream contract. `open` gives a store for each test
 * (a fresh one, or the same shared one: every test uses streams of its own).
 */
export function describeEventStoreContract(name: string, open: () => Promise<EventStore>, options: ContractOptions = {}): void {
  describeMultiStreamContract(name, open, options.multiStream ?? 'supported');
  const duplicates = options.duplicates ?? 'exact';
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let closed: boolean;
    /** This test's stream name prefix. */
    let prefix: string;
    /** The head of the global log when this test started. */
    let start: bigint;
    const subscriptions: Subscription[] = [];

    beforeEach(async () => {
      store = await open();
      closed = false;
      prefix = `ct${randomUUID().replaceAll('-', '').slice(0, 16)}-`;
      start = await store.headPosition();
    });

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      if (!closed) await store.close();
    });

    // ---- helpers ------------------------------------------------------------------------------

    const streamName = (suffix = 'main') => `${prefix}${suffix}`;

    const event = (type = 'ContractTested', data: unknown = { n: 1 }, metadata?: NewEvent['metadata']): NewEvent => ({
      id: randomUUID(),
      type,
      data,
      ...(metadata !== undefined && { metadata }),
    });

    const events = (count: number, type = 'ContractTested'): NewEvent[] =>
      Array.from({ length: count }, (_, i) => event(type, { i }));

    /** Resolves once a reader can see the log up to `position`. */
    async function visible(position: bigint): Promise<void> {
      await waitUntil(async () => (await store.headPosition()) >= position, `head position to reach ${position}`);
    }

    /** This test's events in the global log after `after` (default: the test's start). */
    async function ownLog(options: { after?: bigint; maxCount?: number; filter?: LogFilter } = {}): Promise<RecordedEvent[]> {
      const out: RecordedEvent[] = [];
      const filter: LogFilter = { streamPrefixes: [prefix], ...options.filter };
      for await (const e of store.readAll({
        after: options.after ?? start,
        filter,
        ...(options.maxCount !== undefined && { maxCount: options.maxCount }),
      })) {
        out.push(e);
      }
      return out;
    }

    async function expectNothingWritten(...streams: string[]): Promise<void> {
      for (const s of streams) expect(await store.readStream(s)).toEqual({ version: null, events: [] });
      expect(await ownLog()).toEqual([]);
    }

    function subscribe(options: Partial<SubscribeOptions> = {}) {
      const received: RecordedEvent[] = [];
      const caughtUp: { position: bigint; received: number }[] = [];
      const errors: unknown[] = [];
      const subscription = store.subscribeToAll({
        after: start,
        filter: { streamPrefixes: [prefix] },
        ...options,
        async onEvent(e) {
          received.push(e);
          await options.onEvent?.(e);
        },
        onCaughtUp(position) {
          caughtUp.push({ position, received: received.length });
        },
        onError(error) {
          errors.push(error);
        },
      });
      subscriptions.push(subscription);
      return { subscription, received, caughtUp, errors };
    }

    const ids = (list: readonly { id: string }[]) => list.map((e) => e.id);

    // ---- expected versions --------------------------------------------------------------------

    describe('expected version', () => {
      it("'no_stream' creates a stream; the result names its last version and global position", async () => {
        const s = streamName();
        const batch = events(3);
        const result = await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        expect(result.nextExpectedVersion).toBe(2n);
        expect(result.lastGlobalPosition).toBeGreaterThan(start);
        const read = await store.readStream(s);
        expect(read.version).toBe(2n);
        expect(ids(read.events)).toEqual(ids(batch));
        expect(read.events[2]!.globalPosition).toBe(result.lastGlobalPosition);
      });

      it("'no_stream' on an existing stream throws WrongExpectedVersionError and writes nothing", async () => {
        const s = streamName();
        const first = event();
        await store.appendToStream(s, [first], { expectedVersion: 'no_stream' });
        const error = await rejection(store.appendToStream(s, events(2), { expectedVersion: 'no_stream' }));
        expectConflict(error, { stream: s, expected: 'no_stream', actual: 0n });
        expect(ids((await store.readStream(s)).events)).toEqual([first.id]);
      });

      it("'stream_exists' appends to an existing stream", async () => {
        const s = streamName();
        await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
        const result = await store.appendToStream(s, events(2), { expectedVersion: 'stream_exists' });
        expect(result.nextExpectedVersion).toBe(2n);
        expect((await store.readStream(s)).version).toBe(2n);
      });

      it("'stream_exists' on a missing stream throws WrongExpectedVersionError (actual null) and writes nothing", async () => {
        const s = streamName();
        const error = await rejection(store.appendToStream(s, events(2), { expectedVersion: 'stream_exists' }));
        expectConflict(error, { stream: s, expected: 'stream_exists', actual: null });
        await expectNothingWritten(s);
      });

      it("'any' creates a missing stream and appends to an existing one", async () => {
        const s = streamName();
        const a = await store.appendToStream(s, events(1), { expectedVersion: 'any' });
        expect(a.nextExpectedVersion).toBe(0n);
        const b = await store.appendToStream(s, events(2), { expectedVersion: 'any' });
        expect(b.nextExpectedVersion).toBe(2n);
        expect(b.lastGlobalPosition).toBeGreaterThan(a.lastGlobalPosition);
        expect((await store.readStream(s)).events.map((e) => e.streamVersion)).toEqual([0n, 1n, 2n]);
      });

      it('a bigint equal to the last version appends', async () => {
        const s = streamName();
        await store.appendToStream(s, events(2), { expectedVersion: 'no_stream' });
        const result = await store.appendToStream(s, events(1), { expectedVersion: 1n });
        expect(result.nextExpectedVersion).toBe(2n);
        const again = await store.appendToStream(s, events(1), { expectedVersion: 2n });
        expect(again.nextExpectedVersion).toBe(3n);
      });

      it.each([
        { label: 'behind (a stale read)', existing: 3, expected: 1n, actual: 2n as bigint | null },
        { label: 'ahead', existing: 1, expected: 5n, actual: 0n as bigint | null },
        { label: 'off by one', existing: 2, expected: 0n, actual: 1n as bigint | null },
        { label: 'on a missing stream', existing: 0, expected: 0n, actual: null as bigint | null },
      ])('a bigint $label throws WrongExpectedVersionError with stream, expected and actual; nothing written', async (c) => {
        const s = streamName();
        const setup = events(c.existing);
        if (setup.length > 0) await store.appendToStream(s, setup, { expectedVersion: 'no_stream' });
        const error = await rejection(store.appendToStream(s, events(2), { expectedVersion: c.expected }));
        expectConflict(error, { stream: s, expected: c.expected, actual: c.actual });
        expect(error).toHaveProperty('message', expect.stringContaining(s));
        const read = await store.readStream(s);
        expect(ids(read.events)).toEqual(ids(setup));
        if (setup.length > 0) {
          // The conflict changed nothing: the right version still works.
          const ok = await store.appendToStream(s, events(1), { expectedVersion: BigInt(c.existing - 1) });
          expect(ok.nextExpectedVersion).toBe(BigInt(c.existing));
        }
      });
    });

    // ---- atomic batches -----------------------------------------------------------------------

    describe('atomic batches', () => {
      it('a conflicting batch writes none of its events, and its ids stay free', async () => {
        const s = streamName();
        const setup = events(1);
        await store.appendToStream(s, setup, { expectedVersion: 'no_stream' });
        const batch = events(3);
        await rejection(store.appendToStream(s, batch, { expectedVersion: 5n }), WrongExpectedVersionError);
        expect(ids((await store.readStream(s)).events)).toEqual(ids(setup));
        const result = await store.appendToStream(s, batch, { expectedVersion: 0n });
        await visible(result.lastGlobalPosition);
        expect(ids(await ownLog())).toEqual([...ids(setup), ...ids(batch)]);
      });

      it('a batch with one invalid event writes none of its events, and the valid ids stay free', async () => {
        const s = streamName();
        const good = events(2);
        const bad = event('ContractTested', { value: Number.NaN });
        const error = await rejection(store.appendToStream(s, [...good, bad], { expectedVersion: 'any' }), ValidationError);
        expect(paths(error)).toContain('events.2.data.value');
        await expectNothingWritten(s);
        const result = await store.appendToStream(s, good, { expectedVersion: 'no_stream' });
        expect(result.nextExpectedVersion).toBe(1n);
      });

      it('a batch gets consecutive stream versions and increasing global positions', async () => {
        const s = streamName();
        await store.appendToStream(s, events(2), { expectedVersion: 'no_stream' });
        const result = await store.appendToStream(s, events(4), { expectedVersion: 1n });
        const read = await store.readStream(s, { fromVersion: 2n });
        expect(read.events.map((e) => e.streamVersion)).toEqual([2n, 3n, 4n, 5n]);
        expectIncreasing(read.events.map((e) => e.globalPosition));
        expect(read.events.at(-1)!.globalPosition).toBe(result.lastGlobalPosition);
      });
    });

    // ---- idempotent retry ---------------------------------------------------------------------

    describe('idempotent retry', () => {
      it.each<{ label: string; mode: ExpectedVersion }>([
        { label: 'any', mode: 'any' },
        { label: 'no_stream (the stream exists by now)', mode: 'no_stream' },
        { label: 'stream_exists', mode: 'stream_exists' },
        { label: 'the original bigint version', mode: 0n },
        { label: 'an unrelated bigint version', mode: 7n },
      ])(
        're-appending a stored batch with expected version $label succeeds, appends nothing and returns the original result',
        async ({ mode }) => {
          const s = streamName();
          await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
          const batch = events(2);
          const original = await store.appendToStream(s, batch, { expectedVersion: 0n });
          const later = await store.appendToStream(s, events(1), { expectedVersion: 2n });
          await visible(later.lastGlobalPosition);
          const head = later.lastGlobalPosition;

          const retried = await store.appendToStream(s, batch, { expectedVersion: mode });

          expect(original.duplicate).toBe(false);
          expect(retried).toEqual({ ...original, duplicate: true });
          const read = await store.readStream(s);
          expect(read.version).toBe(3n);
          expect(read.events.filter((e) => batch.some((b) => b.id === e.id))).toHaveLength(2);
          expect(await ownLog({ after: head })).toEqual([]);
        },
      );

      it("re-appending the creating batch with 'no_stream' returns its result", async () => {
        const s = streamName();
        const batch = events(3);
        const original = await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        expect(await store.appendToStream(s, batch, { expectedVersion: 'no_stream' })).toEqual({ ...original, duplicate: true });
        expect(await store.appendToStream(s, batch, { expectedVersion: 'no_stream' })).toEqual({ ...original, duplicate: true });
        await visible(original.lastGlobalPosition);
        expect(ids(await ownLog())).toEqual(ids(batch));
      });

      it('ids are compared as UUIDs: a retry that spells them in upper case is absorbed', async () => {
        const s = streamName();
        const batch = events(2);
        const original = await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        const upper = batch.map((e) => ({ ...e, id: e.id.toUpperCase() }));
        expect(await store.appendToStream(s, upper, { expectedVersion: 'no_stream' })).toEqual({ ...original, duplicate: true });
        expect((await store.readStream(s)).events.map((e) => e.id)).toEqual(batch.map((e) => e.id.toLowerCase()));
      });

      it(`the same append sent concurrently is stored once; every caller gets its result, ${
        duplicates === 'exact' ? 'exactly one' : 'at least one'
      } as not a duplicate`, async () => {
        const s = streamName();
        const batch = events(2);
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, () => store.appendToStream(s, batch, { expectedVersion: 'no_stream' })),
        );
        const values = results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason));
        const withoutFlag = values.map((v) => ({ ...(v as AppendResult), duplicate: undefined }));
        for (const value of withoutFlag) expect(value).toEqual(withoutFlag[0]);
        const fresh = values.filter((v) => (v as AppendResult).duplicate === false).length;
        expect(fresh + values.filter((v) => (v as AppendResult).duplicate === true).length).toBe(8);
        // One caller wrote the batch: it is never told it was a duplicate.
        if (duplicates === 'exact') expect(fresh).toBe(1);
        else expect(fresh).toBeGreaterThanOrEqual(1);
        const first = values[0] as AppendResult;
        expect(first.nextExpectedVersion).toBe(1n);
        expect(ids((await store.readStream(s)).events)).toEqual(ids(batch));
        await visible(first.lastGlobalPosition);
        expect(ids(await ownLog())).toEqual(ids(batch));
      });
    });

    describe('idempotent retry after many later events', () => {
      it.each<{ label: string; mode: (original: bigint | null) => ExpectedVersion }>([
        { label: 'any', mode: () => 'any' },
        { label: 'stream_exists', mode: () => 'stream_exists' },
        { label: 'no_stream', mode: () => 'no_stream' },
        { label: 'the original bigint version', mode: (v) => v ?? 0n },
        { label: 'an unrelated bigint version', mode: () => 7n },
      ])(
        'with expected version $label, a batch retried after 250 later events is absorbed and returns the original result',
        async ({ mode }) => {
          const s = streamName();
          await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
          const batch = events(3);
          const original = await store.appendToStream(s, batch, { expectedVersion: 0n });
          // Later events in several appends, as other commands would write them.
          for (let i = 0; i < 5; i++) await store.appendToStream(s, events(50), { expectedVersion: 'any' });
          const before = await store.readStream(s, { maxCount: 0 });
          expect(before.version).toBe(253n);

          const retried = await store.appendToStream(s, batch, { expectedVersion: mode(0n) });

          expect(retried).toEqual({ ...original, duplicate: true });
          const read = await store.readStream(s);
          expect(read.version).toBe(253n);
          expect(read.events.filter((e) => batch.some((b) => b.id === e.id)).map((e) => e.streamVersion)).toEqual([1n, 2n, 3n]);
        },
      );

      it("with 'no_stream', the creating batch retried after 250 later events is absorbed", async () => {
        const s = streamName();
        const batch = events(2);
        const original = await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        for (let i = 0; i < 5; i++) await store.appendToStream(s, events(50), { expectedVersion: 'any' });
        expect(await store.appendToStream(s, batch, { expectedVersion: 'no_stream' })).toEqual({ ...original, duplicate: true });
        expect((await store.readStream(s, { maxCount: 0 })).version).toBe(251n);
      });
    });

    describe("expected version 'any' under contention", () => {
      it("16 writers x 30 appends with 'any' on one stream never conflict; every event is stored once", async () => {
        const s = streamName();
        const written: string[] = [];
        const failures: unknown[] = [];
        await Promise.all(
          Array.from({ length: 16 }, async (_, writer) => {
            for (let i = 0; i < 30; i++) {
              const e = event('ContractTested', { writer, i });
              try {
                const result = await store.appendToStream(s, [e], { expectedVersion: 'any' });
                expect(result.duplicate).toBe(false);
                written.push(e.id);
              } catch (error) {
                failures.push(error);
              }
            }
          }),
        );
        expect(failures).toEqual([]);
        const read = await store.readStream(s);
        expect(read.version).toBe(479n);
        expect(new Set(ids(read.events))).toEqual(new Set(written));
        expect(read.events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 480 }, (_, i) => BigInt(i)));
      });
    });

    // ---- duplicate ids ------------------------------------------------------------------------

    describe('duplicate event ids', () => {
      it.each<{ mode: ExpectedVersion }>([{ mode: 'any' }, { mode: 'no_stream' }])(
        "an id stored in another stream throws DuplicateEventIdError under $mode and writes nothing",
        async ({ mode }) => {
          const other = streamName('other');
          const stored = event();
          await store.appendToStream(other, [stored], { expectedVersion: 'no_stream' });
          const target = streamName('target');
          const error = await rejection(
            store.appendToStream(target, [event(), { ...stored }], { expectedVersion: mode }),
            DuplicateEventIdError,
          );
          expect(error).toMatchObject({ stream: target, eventId: stored.id });
          expect(await store.readStream(target)).toEqual({ version: null, events: [] });
          expect(ids(await ownLog())).toEqual([stored.id]);
        },
      );

      it('a batch mixing a stored id with new ones is refused whole, and the new ids stay free', async () => {
        const s = streamName();
        const stored = events(2);
        await store.appendToStream(s, stored, { expectedVersion: 'no_stream' });
        const fresh = event();
        const error = await rejection(
          store.appendToStream(s, [stored[1]!, fresh], { expectedVersion: 'any' }),
          DuplicateEventIdError,
        );
        expect(error).toMatchObject({ stream: s, eventId: stored[1]!.id });
        expect(ids((await store.readStream(s)).events)).toEqual(ids(stored));
        expect((await store.appendToStream(s, [fresh], { expectedVersion: 1n })).nextExpectedVersion).toBe(2n);
      });

      it.each<{ label: string; mode: ExpectedVersion }>([
        { label: 'any', mode: 'any' },
        { label: 'stream_exists', mode: 'stream_exists' },
        { label: 'the current version', mode: 0n },
      ])("a new id followed by the stream's first stored id, under $label, is refused whole", async ({ mode }) => {
        const s = streamName();
        const stored = events(1);
        await store.appendToStream(s, stored, { expectedVersion: 'no_stream' });
        const fresh = event();
        const error = await rejection(store.appendToStream(s, [fresh, stored[0]!], { expectedVersion: mode }), DuplicateEventIdError);
        expect(error).toMatchObject({ stream: s });
        expect(ids((await store.readStream(s)).events)).toEqual(ids(stored));
      });

      it('a stored batch with extra events appended to it is not a retry', async () => {
        const s = streamName();
        const stored = events(2);
        await store.appendToStream(s, stored, { expectedVersion: 'no_stream' });
        await rejection(store.appendToStream(s, [...stored, event()], { expectedVersion: 'any' }), DuplicateEventIdError);
        expect(ids((await store.readStream(s)).events)).toEqual(ids(stored));
      });

      it('a stored batch in another order is not a retry', async () => {
        const s = streamName();
        const stored = events(2);
        await store.appendToStream(s, stored, { expectedVersion: 'no_stream' });
        await rejection(store.appendToStream(s, [stored[1]!, stored[0]!], { expectedVersion: 'any' }), DuplicateEventIdError);
        expect(ids((await store.readStream(s)).events)).toEqual(ids(stored));
      });
    });

    // ---- readStream ---------------------------------------------------------------------------

    describe('read options are checked: ValidationError naming the field', () => {
      it.each(BAD_READ_STREAM_OPTIONS)('readStream with $label', async ({ options, path }) => {
        const s = streamName();
        await store.appendToStream(s, events(2), { expectedVersion: 'no_stream' });
        const error = await rejection(store.readStream(s, options as ReadStreamOptions), ValidationError);
        expect(paths(error)).toEqual([path]);
      });

      it('readStream of a stream name with a lone surrogate', async () => {
        expect(paths(await rejection(store.readStream(`${prefix}\uDFFF`), ValidationError))).toEqual(['stream']);
      });

      it.each(BAD_READ_ALL_OPTIONS)('readAll with $label', async ({ options, path }) => {
        const read = async () => {
          for await (const _ of store.readAll(options as ReadAllOptions)) break;
        };
        expect(paths(await rejection(read(), ValidationError))).toEqual([path]);
      });

      it.each(BAD_READ_ALL_OPTIONS.filter((c) => !c.path.startsWith('maxCount')))('subscribeToAll with $label', async ({ options, path }) => {
        const { after, filter } = options as SubscribeOptions;
        let error: unknown;
        try {
          subscriptions.push(store.subscribeToAll({ ...(after !== undefined && { after }), ...(filter !== undefined && { filter }), onEvent() {} }));
        } catch (e) {
          error = e;
        }
        expect(paths(error)).toEqual([path]);
      });

      it('maxCount 0 reads no events but the version; Infinity reads them all', async () => {
        const s = streamName();
        await store.appendToStream(s, events(3), { expectedVersion: 'no_stream' });
        expect(await store.readStream(s, { maxCount: 0 })).toEqual({ version: 2n, events: [] });
        expect((await store.readStream(s, { maxCount: Number.POSITIVE_INFINITY })).events).toHaveLength(3);
        expect(await ownLog({ maxCount: Number.POSITIVE_INFINITY })).toHaveLength(3);
      });
    });

    describe('readStream', () => {
      it('a missing stream reads as { version: null, events: [] }, in both directions', async () => {
        const s = streamName('missing');
        expect(await store.readStream(s)).toEqual({ version: null, events: [] });
        expect(await store.readStream(s, { direction: 'backwards' })).toEqual({ version: null, events: [] });
        expect(await store.readStream(s, { fromVersion: 3n, maxCount: 2 })).toEqual({ version: null, events: [] });
      });

      it('reads forwards, from a version, at most maxCount events; version is always the stream version', async () => {
        const s = streamName();
        const batch = events(6);
        await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        const all = await store.readStream(s);
        expect(all.version).toBe(5n);
        expect(ids(all.events)).toEqual(ids(batch));
        expect(all.events.map((e) => e.streamVersion)).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);

        const from = await store.readStream(s, { fromVersion: 2n });
        expect(from.version).toBe(5n);
        expect(ids(from.events)).toEqual(ids(batch.slice(2)));

        const window = await store.readStream(s, { fromVersion: 1n, maxCount: 3, direction: 'forwards' });
        expect(window.version).toBe(5n);
        expect(ids(window.events)).toEqual(ids(batch.slice(1, 4)));

        expect(ids((await store.readStream(s, { maxCount: 2 })).events)).toEqual(ids(batch.slice(0, 2)));
        expect(ids((await store.readStream(s, { fromVersion: 4n, maxCount: 10 })).events)).toEqual(ids(batch.slice(4)));
        expect(await store.readStream(s, { fromVersion: 6n })).toEqual({ version: 5n, events: [] });
      });

      it('reads backwards, from a version, at most maxCount events', async () => {
        const s = streamName();
        const batch = events(5);
        await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        const reversed = [...batch].reverse();

        const all = await store.readStream(s, { direction: 'backwards' });
        expect(all.version).toBe(4n);
        expect(ids(all.events)).toEqual(ids(reversed));
        expect(all.events.map((e) => e.streamVersion)).toEqual([4n, 3n, 2n, 1n, 0n]);

        const last = await store.readStream(s, { direction: 'backwards', maxCount: 1 });
        expect(last.version).toBe(4n);
        expect(ids(last.events)).toEqual([batch[4]!.id]);

        const window = await store.readStream(s, { direction: 'backwards', fromVersion: 3n, maxCount: 2 });
        expect(ids(window.events)).toEqual([batch[3]!.id, batch[2]!.id]);

        const fromStart = await store.readStream(s, { direction: 'backwards', fromVersion: 0n });
        expect(ids(fromStart.events)).toEqual([batch[0]!.id]);
      });

      it('streams whose names share a prefix stay separate', async () => {
        const short = streamName('a');
        const long = streamName('a-b');
        const a = events(2);
        const b = events(1);
        await store.appendToStream(short, a, { expectedVersion: 'no_stream' });
        await store.appendToStream(long, b, { expectedVersion: 'no_stream' });
        expect(ids((await store.readStream(short)).events)).toEqual(ids(a));
        expect(ids((await store.readStream(long)).events)).toEqual(ids(b));
        expect((await store.readStream(long)).version).toBe(0n);
      });

      it('a stream name of 200 characters works', async () => {
        const s = streamName().padEnd(200, 'x');
        expect(s).toHaveLength(200);
        const batch = events(1);
        await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        expect((await store.readStream(s)).events[0]).toMatchObject({ id: batch[0]!.id, streamName: s });
      });
    });

    // ---- recorded events ----------------------------------------------------------------------

    describe('recorded events', () => {
      it('carry id, type, stream name, 0-based stream version, increasing global position and recordedAt', async () => {
        const before = Date.now();
        const s1 = streamName('one');
        const s2 = streamName('two');
        const a = await store.appendToStream(s1, [event('First'), event('Second')], { expectedVersion: 'no_stream' });
        const b = await store.appendToStream(s2, [event('Third')], { expectedVersion: 'no_stream' });
        const c = await store.appendToStream(s1, [event('Fourth')], { expectedVersion: 1n });
        expect(b.lastGlobalPosition).toBeGreaterThan(a.lastGlobalPosition);
        expect(c.lastGlobalPosition).toBeGreaterThan(b.lastGlobalPosition);

        const read = (await store.readStream(s1)).events;
        expect(read.map((e) => [e.type, e.streamName, e.streamVersion])).toEqual([
          ['First', s1, 0n],
          ['Second', s1, 1n],
          ['Fourth', s1, 2n],
        ]);
        for (const e of [...read, ...(await store.readStream(s2)).events]) {
          expect(typeof e.streamVersion).toBe('bigint');
          expect(typeof e.globalPosition).toBe('bigint');
          expect(e.globalPosition).toBeGreaterThan(start);
          expect(e.recordedAt).toBeInstanceOf(Date);
          // Generous: the store's clock may be another machine's.
          expect(Math.abs(e.recordedAt.getTime() - before)).toBeLessThan(10 * 60_000);
        }
        expect(read[2]!.globalPosition).toBe(c.lastGlobalPosition);

        await visible(c.lastGlobalPosition);
        const log = await ownLog();
        expect(log.map((e) => e.type)).toEqual(['First', 'Second', 'Third', 'Fourth']);
        expectIncreasing(log.map((e) => e.globalPosition));
        // The log and the stream agree on every field.
        expect(log.filter((e) => e.streamName === s1)).toEqual(read);
      });

      it('round-trip nested JSON data and unicode exactly', async () => {
        const s = streamName();
        const nested = {
          text: 'grüße, 東京, مرحبا, emoji 🍕🇩🇪, combining é, "quotes", back\\slash, new\nline, tab\t',
          numbers: [0, -1, 1.5, 0.1, 1e-7, 1e21, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
          flags: { yes: true, no: false, none: null },
          empty: { object: {}, array: [], string: '' },
          deep: { a: { b: { c: { d: { e: [[[{ f: 'g' }]]] } } } } },
          'key with spaces and ünïcödé 🔑': 'v',
          'dotted.key': { '': 'empty key' },
          list: [{ sku: 'A-1', quantity: 2 }, { sku: 'B-2', quantity: 1 }],
        };
        const variants: unknown[] = [nested, [1, 'two', null, { three: 3 }], 'just a string ✓', 42, null, true];
        const batch = variants.map((data) => event('RoundTripped', data));
        await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        const read = (await store.readStream(s)).events;
        expect(read.map((e) => e.data)).toStrictEqual(variants);
      });

      it('round-trip a NUL character inside a string', async () => {
        const s = streamName();
        const data = { note: 'before\u0000after', [`k\u0000ey`]: 1 };
        await store.appendToStream(s, [event('Nul', data)], { expectedVersion: 'no_stream' });
        expect((await store.readStream(s)).events[0]!.data).toStrictEqual(data);
      });

      it('store data as JSON: undefined properties are dropped, later changes to the input are not seen', async () => {
        const s = streamName();
        const data: Record<string, unknown> = { kept: 1, dropped: undefined, inner: { list: [1, 2] } };
        await store.appendToStream(s, [event('Copied', data)], { expectedVersion: 'no_stream' });
        (data.inner as { list: number[] }).list.push(3);
        data.kept = 2;
        const stored = (await store.readStream(s)).events[0]!.data as Record<string, unknown>;
        expect(stored).toStrictEqual({ kept: 1, inner: { list: [1, 2] } });
        expect(Object.keys(stored)).not.toContain('dropped');
      });

      it('are not changed by a reader that changes what it read', async () => {
        const s = streamName();
        await store.appendToStream(s, [event('Shared', { list: [1], nested: { a: 1 } }, { actor: 'ann' })], {
          expectedVersion: 'no_stream',
        });
        const first = (await store.readStream(s)).events[0]!;
        (first.data as { list: number[] }).list.push(2);
        (first.data as { nested: { a: number } }).nested.a = 99;
        first.metadata.actor = 'mallory';
        const second = (await store.readStream(s)).events[0]!;
        expect(second.data).toStrictEqual({ list: [1], nested: { a: 1 } });
        expect(second.metadata).toStrictEqual({ actor: 'ann' });
        const [fromLog] = await ownLog();
        expect(fromLog!.data).toStrictEqual({ list: [1], nested: { a: 1 } });
      });

      it('round-trip metadata, and read back {} when none was given', async () => {
        const s = streamName();
        const metadata = {
          commandId: randomUUID(),
          correlationId: 'http-request-7',
          causationId: randomUUID(),
          actor: 'user:ann',
          occurredAt: '2026-03-01T12:00:00.000Z',
          tenant: { id: 't-1', region: 'eu' },
          tags: ['retry', 'ünïcode ✓'],
        };
        await store.appendToStream(s, [event('WithMeta', {}, metadata), event('WithoutMeta', {})], {
          expectedVersion: 'no_stream',
        });
        const [withMeta, withoutMeta] = (await store.readStream(s)).events;
        expect(withMeta!.metadata).toStrictEqual(metadata);
        expect(withoutMeta!.metadata).toStrictEqual({});
      });
    });

    // ---- readAll ------------------------------------------------------------------------------

    describe('readAll', () => {
      async function writeInterleaved() {
        const a = streamName('a');
        const b = streamName('b');
        const written: NewEvent[] = [];
        let last: AppendResult | undefined;
        for (let i = 0; i < 4; i++) {
          for (const s of [a, b]) {
            const e = event(i % 2 === 0 ? `Even${prefix.slice(2, 10)}` : `Odd${prefix.slice(2, 10)}`, { s, i });
            last = await store.appendToStream(s, [e], { expectedVersion: 'any' });
            written.push(e);
          }
        }
        await visible(last!.lastGlobalPosition);
        return { a, b, written };
      }

      it('returns every event after a position exactly once, in append order', async () => {
        const { written } = await writeInterleaved();
        const log = await ownLog();
        expect(ids(log)).toEqual(ids(written));
        expectIncreasing(log.map((e) => e.globalPosition));

        const third = log[2]!.globalPosition;
        expect(ids(await ownLog({ after: third }))).toEqual(ids(written.slice(3)));
        expect(await ownLog({ after: log.at(-1)!.globalPosition })).toEqual([]);
      });

      it('maxCount limits the number of matching events returned', async () => {
        const { written } = await writeInterleaved();
        expect(ids(await ownLog({ maxCount: 3 }))).toEqual(ids(written.slice(0, 3)));
        const log = await ownLog();
        expect(ids(await ownLog({ after: log[4]!.globalPosition, maxCount: 2 }))).toEqual(ids(written.slice(5, 7)));
        expect(ids(await ownLog({ maxCount: 100 }))).toEqual(ids(written));
      });

      it('filters by event type (any of several), combined with the stream prefix', async () => {
        const { written } = await writeInterleaved();
        const even = written.filter((e) => e.type.startsWith('Even'));
        expect(ids(await ownLog({ filter: { eventTypes: [even[0]!.type] } }))).toEqual(ids(even));
        expect(ids(await ownLog({ filter: { eventTypes: [even[0]!.type], streamPrefixes: [streamName('b')] } }))).toEqual(
          ids(even.filter((e) => (e.data as { s: string }).s === streamName('b'))),
        );
        const types = [...new Set(written.map((e) => e.type))];
        expect(ids(await ownLog({ filter: { eventTypes: types } }))).toEqual(ids(written));
        expect(await ownLog({ filter: { eventTypes: ['NoSuchTypeAnywhere'] } })).toEqual([]);
        // An empty list is no filter.
        expect(ids(await ownLog({ filter: { eventTypes: [] } }))).toEqual(ids(written));
      });

      it('filters by stream prefix (any of several); a prefix matches only at the start, characters literally', async () => {
        const { a, b, written } = await writeInterleaved();
        const inA = written.filter((e) => (e.data as { s: string }).s === a);
        expect(ids(await ownLog({ filter: { streamPrefixes: [a] } }))).toEqual(ids(inA));
        expect(ids(await ownLog({ filter: { streamPrefixes: [a, b] } }))).toEqual(ids(written));

        const lookalikes = [`x${prefix}a`, `${prefix}xa`, `${prefix}ya`, `${prefix}lit_x`, `${prefix}lit%x`, `${prefix}LIT`];
        let last: AppendResult | undefined;
        for (const s of lookalikes) last = await store.appendToStream(s, [event('Lookalike', { s })], { expectedVersion: 'no_stream' });
        await visible(last!.lastGlobalPosition);
        const streamsMatching = async (p: string) =>
          (await ownLog({ filter: { streamPrefixes: [p] } })).map((e) => e.streamName);
        // `_` and `%` are not wildcards, and matching is case-sensitive.
        expect(await streamsMatching(`${prefix}_a`)).toEqual([]);
        expect(await streamsMatching(`${prefix}%`)).toEqual([]);
        expect(await streamsMatching(`${prefix}lit_`)).toEqual([`${prefix}lit_x`]);
        expect(await streamsMatching(`${prefix}lit%`)).toEqual([`${prefix}lit%x`]);
        expect(await streamsMatching(`${prefix}lit`)).toEqual([`${prefix}lit_x`, `${prefix}lit%x`]);
        // A stream that only contains the prefix is not under it.
        expect((await ownLog()).map((e) => e.streamName)).not.toContain(`x${prefix}a`);
        expect(await streamsMatching(a)).toEqual(inA.map(() => a));
        const underX: string[] = [];
        for await (const e of store.readAll({ after: start, filter: { streamPrefixes: [`x${prefix}`] } })) underX.push(e.streamName);
        expect(underX).toEqual([`x${prefix}a`]);
      });
    });

    // ---- subscribeToAll -----------------------------------------------------------------------

    describe('subscribeToAll', () => {
      it('catches up, reports being caught up, then delivers live events, each once, in order', async () => {
        const s = streamName();
        const early = events(3);
        const r1 = await store.appendToStream(s, early, { expectedVersion: 'no_stream' });
        await visible(r1.lastGlobalPosition);
        const { received, caughtUp, errors } = subscribe();

        await waitUntil(() => caughtUp.length > 0, 'the subscription to catch up');
        expect(caughtUp[0]!.received).toBe(3);
        expect(caughtUp[0]!.position).toBeGreaterThanOrEqual(r1.lastGlobalPosition);
        expect(ids(received)).toEqual(ids(early));

        const late = events(2);
        await store.appendToStream(s, late.slice(0, 1), { expectedVersion: 2n });
        await store.appendToStream(streamName('other'), late.slice(1), { expectedVersion: 'no_stream' });
        await waitUntil(() => received.length >= 5, 'live events');
        await sleep(QUIET_MS);
        expect(ids(received)).toEqual([...ids(early), ...ids(late)]);
        expect(ids(received)).toEqual(ids(await ownLog()));
        expect(errors).toEqual([]);
      });

      it('starts after the given position', async () => {
        const s = streamName();
        const batch = events(4);
        const r = await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
        await visible(r.lastGlobalPosition);
        const second = (await store.readStream(s)).events[1]!;
        const { received, caughtUp } = subscribe({ after: second.globalPosition });
        await waitUntil(() => caughtUp.length > 0, 'the subscription to catch up');
        expect(ids(received)).toEqual(ids(batch.slice(2)));
      });

      it('delivers only events that pass its filter', async () => {
        const wanted = `Wanted${prefix.slice(2, 10)}`;
        const s = streamName('in');
        const outside = `x${prefix}out`;
        const { received, caughtUp } = subscribe({ filter: { streamPrefixes: [prefix], eventTypes: [wanted] } });
        await waitUntil(() => caughtUp.length > 0, 'the subscription to catch up');
        const a = event(wanted);
        const b = event(wanted);
        await store.appendToStream(s, [a, event('Unwanted')], { expectedVersion: 'no_stream' });
        await store.appendToStream(outside, [event(wanted)], { expectedVersion: 'no_stream' });
        await store.appendToStream(s, [b], { expectedVersion: 1n });
        await waitUntil(() => received.length >= 2, 'the wanted events');
        await sleep(QUIET_MS);
        expect(ids(received)).toEqual([a.id, b.id]);
      });

      it('delivers every event exactly once, in log order, while many writers append', async () => {
        const { received, caughtUp } = subscribe();
        await waitUntil(() => caughtUp.length > 0, 'the subscription to catch up');
        const writers = Array.from({ length: 6 }, async (_, w) => {
          const s = streamName(`w${w}`);
          for (let i = 0; i < 8; i++) {
            await store.appendToStream(s, events(i % 3 === 0 ? 2 : 1), { expectedVersion: 'any' });
          }
        });
        await Promise.all(writers);
        const expectedCount = 6 * (3 * 2 + 5 * 1);
        await waitUntil(() => received.length >= expectedCount, `${expectedCount} events`);
        await sleep(QUIET_MS);
        expect(received).toHaveLength(expectedCount);
        expect(new Set(ids(received)).size).toBe(expectedCount);
        expectIncreasing(received.map((e) => e.globalPosition));
        expect(ids(received)).toEqual(ids(await ownLog()));
        for (let w = 0; w < 6; w++) {
          const versions = received.filter((e) => e.streamName === streamName(`w${w}`)).map((e) => e.streamVersion);
          expect(versions).toEqual(versions.map((_, i) => BigInt(i)));
        }
      });

      it('calls onEvent one at a time: the next call waits for the returned promise', async () => {
        let running = 0;
        let most = 0;
        const { received } = subscribe({
          async onEvent() {
            running++;
            most = Math.max(most, running);
            await sleep(2);
            running--;
          },
        });
        await store.appendToStream(streamName(), events(5), { expectedVersion: 'no_stream' });
        await waitUntil(() => received.length >= 5 && running === 0, 'five events');
        expect(most).toBe(1);
      });

      it('stop() resolves once onEvent is done, and nothing is delivered after it resolves', async () => {
        const s = streamName();
        const r = await store.appendToStream(s, events(5), { expectedVersion: 'no_stream' });
        await visible(r.lastGlobalPosition);
        const gate = deferred();
        const { subscription, received } = subscribe({ onEvent: () => gate.promise });
        await waitUntil(() => received.length === 1, 'the first event');

        let stopped = false;
        const stopping = subscription.stop().then(() => (stopped = true));
        await sleep(20);
        expect(stopped).toBe(false);
        gate.resolve();
        await stopping;
        const count = received.length;
        expect(count).toBe(1);

        await store.appendToStream(s, events(2), { expectedVersion: 4n });
        await sleep(QUIET_MS);
        expect(received).toHaveLength(count);
        await expect(subscription.done).resolves.toBeUndefined();
      });

      it('stop() of an idle live subscription resolves, and later events are not delivered', async () => {
        const { subscription, received, caughtUp } = subscribe();
        await waitUntil(() => caughtUp.length > 0, 'the subscription to catch up');
        await subscription.stop();
        await store.appendToStream(streamName(), events(3), { expectedVersion: 'no_stream' });
        await sleep(QUIET_MS);
        expect(received).toEqual([]);
        await subscription.done;
      });

      it('a throwing onEvent stops the subscription and calls onError with the error', async () => {
        const s = streamName();
        const boom = new Error('projection failed');
        const { subscription, received, errors } = subscribe({
          onEvent() {
            throw boom;
          },
        });
        await store.appendToStream(s, events(3), { expectedVersion: 'no_stream' });
        await waitUntil(() => errors.length > 0, 'onError');
        await subscription.done;
        await store.appendToStream(s, events(1), { expectedVersion: 2n });
        await sleep(QUIET_MS);
        expect(errors).toEqual([boom]);
        expect(received).toHaveLength(1);
      });

      it('close() stops the store’s subscriptions', async () => {
        const { subscription, caughtUp } = subscribe();
        await waitUntil(() => caughtUp.length > 0, 'the subscription to catch up');
        await store.close();
        closed = true;
        await withTimeout(subscription.done, 'subscription.done after close()');
      });
    });

    // ---- concurrency --------------------------------------------------------------------------

    describe('concurrent appends', () => {
      it('of N writers with the same expected version, exactly one wins; the rest get WrongExpectedVersionError', async () => {
        const s = streamName();
        await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
        const batches = Array.from({ length: 10 }, () => events(2));
        const results = await Promise.allSettled(batches.map((b) => store.appendToStream(s, b, { expectedVersion: 0n })));
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expectConflict(r.reason, { stream: s, expected: 0n, actual: 2n });
        }
        const read = await store.readStream(s);
        expect(read.version).toBe(2n);
        expect(ids(read.events.slice(1))).toEqual(ids(batches[winners[0]!]!));
      });

      it("of N writers creating one stream with 'no_stream', exactly one wins", async () => {
        const s = streamName();
        const batches = Array.from({ length: 10 }, () => events(1));
        const results = await Promise.allSettled(batches.map((b) => store.appendToStream(s, b, { expectedVersion: 'no_stream' })));
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expectConflict(r.reason, { stream: s, expected: 'no_stream', actual: 0n });
        }
        expect(ids((await store.readStream(s)).events)).toEqual(ids(batches[winners[0]!]!));
      });

      it('to different streams all succeed, with distinct global positions', async () => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.appendToStream(streamName(`p${i}`), events(2), { expectedVersion: 'no_stream' })),
        );
        expect(new Set(results.map((r) => r.lastGlobalPosition)).size).toBe(10);
        await visible(results.reduce((max, r) => (r.lastGlobalPosition > max ? r.lastGlobalPosition : max), start));
        const log = await ownLog();
        expect(log).toHaveLength(20);
        expectIncreasing(log.map((e) => e.globalPosition));
      });
    });

    // ---- validation ---------------------------------------------------------------------------

    describe('validation: bad input throws ValidationError naming the field, and nothing is written', () => {
      class Money {
        constructor(readonly cents: number) {}
      }
      const tooLong = () => `${prefix}${'x'.repeat(201 - prefix.length)}`;

      it.each<{ label: string; stream: () => string }>([
        { label: 'an empty stream name', stream: () => '' },
        { label: 'a stream name starting with $', stream: () => `$${prefix}s` },
        { label: 'a stream name of 201 characters', stream: tooLong },
        { label: 'a stream name with a space', stream: () => `${prefix}a b` },
        { label: 'a stream name with a newline', stream: () => `${prefix}a\nb` },
        { label: 'a stream name with a lone high surrogate', stream: () => `${prefix}a\uD800b` },
        { label: 'a stream name ending in a lone low surrogate', stream: () => `${prefix}a\uDC00` },
      ])('$label', async ({ stream }) => {
        const s = stream();
        const error = await rejection(store.appendToStream(s, events(1), { expectedVersion: 'any' }), ValidationError);
        expect(paths(error)).toEqual(['stream']);
        await expectNothingWritten();
        const elsewhere: RecordedEvent[] = [];
        for await (const e of store.readAll({ after: start, filter: { streamPrefixes: [`$${prefix}`] } })) elsewhere.push(e);
        expect(elsewhere).toEqual([]);
        await rejection(store.readStream(s), ValidationError);
      });

      const bad = (partial: Partial<NewEvent> & Record<string, unknown>): NewEvent =>
        ({ id: randomUUID(), type: 'ContractTested', data: {}, ...partial }) as NewEvent;

      it.each<{ label: string; batch: () => NewEvent[]; path: string }>([
        { label: 'an empty event type', batch: () => [bad({ type: '' })], path: 'events.0.type' },
        { label: 'an event type starting with a digit', batch: () => [bad({ type: '1Placed' })], path: 'events.0.type' },
        { label: 'an event type with a space', batch: () => [bad({ type: 'Order Placed' })], path: 'events.0.type' },
        { label: 'an event type starting with $', batch: () => [bad({ type: '$Placed' })], path: 'events.0.type' },
        { label: 'an event type of 201 characters', batch: () => [bad({ type: 'T'.repeat(201) })], path: 'events.0.type' },
        { label: 'a missing event type', batch: () => [bad({ type: undefined })], path: 'events.0.type' },
        { label: 'a non-UUID id', batch: () => [event(), bad({ id: 'order-1' })], path: 'events.1.id' },
        { label: 'an empty id', batch: () => [bad({ id: '' })], path: 'events.0.id' },
        { label: 'a numeric id', batch: () => [bad({ id: 42 as unknown as string })], path: 'events.0.id' },
        { label: 'an id repeated within the batch', batch: () => { const e = event(); return [e, { ...e }]; }, path: 'events.1.id' },
        { label: 'NaN in data', batch: () => [bad({ data: { total: Number.NaN } })], path: 'events.0.data.total' },
        { label: 'Infinity in data', batch: () => [bad({ data: { a: { b: Number.POSITIVE_INFINITY } } })], path: 'events.0.data.a.b' },
        { label: '-Infinity as data', batch: () => [bad({ data: Number.NEGATIVE_INFINITY })], path: 'events.0.data' },
        { label: 'a bigint in data', batch: () => [bad({ data: { amount: 10n } })], path: 'events.0.data.amount' },
        { label: 'a function in data', batch: () => [bad({ data: { f: () => 1 } })], path: 'events.0.data.f' },
        { label: 'a Date in data', batch: () => [bad({ data: { at: new Date() } })], path: 'events.0.data.at' },
        { label: 'a class instance in data', batch: () => [bad({ data: { price: new Money(5) } })], path: 'events.0.data.price' },
        { label: 'a Map in data', batch: () => [bad({ data: { m: new Map() } })], path: 'events.0.data.m' },
        { label: 'a symbol in data', batch: () => [bad({ data: { s: Symbol('s') } })], path: 'events.0.data.s' },
        { label: 'undefined inside an array', batch: () => [bad({ data: { list: [1, undefined] } })], path: 'events.0.data.list.1' },
        { label: 'undefined data', batch: () => [bad({ data: undefined })], path: 'events.0.data' },
        { label: 'metadata that is not an object', batch: () => [bad({ metadata: ['actor'] as never })], path: 'events.0.metadata' },
        { label: 'NaN in metadata', batch: () => [bad({ metadata: { score: Number.NaN } })], path: 'events.0.metadata.score' },
        { label: 'an event that is not an object', batch: () => [event(), null as unknown as NewEvent], path: 'events.1' },
        {
          label: 'data over 1 MiB of JSON',
          batch: () => [event(), bad({ data: 'x'.repeat(1024 * 1024) })],
          path: 'events.1',
        },
        {
          label: 'data plus metadata over 1 MiB of JSON',
          batch: () => [bad({ data: 'x'.repeat(600 * 1024), metadata: { note: 'y'.repeat(600 * 1024) } })],
          path: 'events.0',
        },
        { label: 'an empty batch', batch: () => [], path: 'events' },
        { label: 'a batch of 10,001 events', batch: () => events(10_001), path: 'events' },
      ])('$label', async ({ batch, path }) => {
        const s = streamName();
        const error = await rejection(store.appendToStream(s, batch(), { expectedVersion: 'any' }), ValidationError);
        expect(paths(error)).toContain(path);
        await expectNothingWritten(s);
      });

      it.each<{ label: string; expectedVersion: unknown }>([
        { label: 'a negative expected version', expectedVersion: -1n },
        { label: 'an expected version of 2^63 (one above the largest)', expectedVersion: 2n ** 63n },
        { label: 'an expected version of 2^64 (which wraps to 0 in 64 bits)', expectedVersion: 2n ** 64n },
        { label: 'an expected version of 2^64 + 1', expectedVersion: 2n ** 64n + 1n },
        { label: 'an unknown expected version', expectedVersion: 'latest' },
        { label: 'a number instead of a bigint', expectedVersion: 0 },
        { label: 'no expected version', expectedVersion: undefined },
      ])('$label', async ({ expectedVersion }) => {
        const s = streamName();
        const error = await rejection(
          store.appendToStream(s, events(1), { expectedVersion: expectedVersion as ExpectedVersion }),
          ValidationError,
        );
        expect(paths(error)).toEqual(['expectedVersion']);
        await expectNothingWritten(s);
      });

      it('every failing field is named, and a valid stream stays untouched', async () => {
        const s = streamName();
        const setup = events(1);
        await store.appendToStream(s, setup, { expectedVersion: 'no_stream' });
        const error = await rejection(
          store.appendToStream(s, [bad({ id: 'nope' }), bad({ type: '' }), bad({ data: { n: Number.NaN } })], {
            expectedVersion: 0n,
          }),
          ValidationError,
        );
        expect(paths(error)).toEqual(['events.0.id', 'events.1.type', 'events.2.data.n']);
        expect(error.message).toContain('events.1.type');
        expect(ids((await store.readStream(s)).events)).toEqual(ids(setup));
        expect(ids(await ownLog())).toEqual(ids(setup));
      });

      it('the largest expected version, 2^63 - 1, is accepted and conflicts with a real stream', async () => {
        const s = streamName();
        await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
        const error = await rejection(store.appendToStream(s, events(1), { expectedVersion: 2n ** 63n - 1n }), WrongExpectedVersionError);
        expectConflict(error, { stream: s, expected: 2n ** 63n - 1n, actual: 0n });
      });

      it('an existing stream is not written by an append with expected version 2^64 (no wrapping to 0)', async () => {
        const s = streamName();
        const setup = events(1);
        await store.appendToStream(s, setup, { expectedVersion: 'no_stream' });
        await rejection(store.appendToStream(s, events(1), { expectedVersion: 2n ** 64n }), ValidationError);
        expect(ids((await store.readStream(s)).events)).toEqual(ids(setup));
      });

      it('the event size limit counts UTF-8 bytes: 400,000 CJK characters (1.2 MB) are refused', async () => {
        const s = streamName();
        const error = await rejection(
          store.appendToStream(s, [bad({ data: { text: '\u4e2d'.repeat(400_000) } })], { expectedVersion: 'any' }),
          ValidationError,
        );
        expect(paths(error)).toEqual(['events.0']);
        await expectNothingWritten(s);
      });

      it('the batch size limit (128 MiB) counts UTF-8 bytes: 140 MB of CJK text in fewer characters is refused', async () => {
        const s = streamName();
        // 134 events of 349,000 three-byte characters: about 140 MB of UTF-8, but 46.8 million characters.
        const text = '\u4e2d'.repeat(349_000);
        const batch = Array.from({ length: 134 }, () => bad({ data: { text } }));
        const error = await rejection(store.appendToStream(s, batch, { expectedVersion: 'any' }), ValidationError);
        expect(paths(error)).toContain('events');
        await expectNothingWritten(s);
      });

      it('a large event under the limit (512 KiB) is stored whole', async () => {
        const s = streamName();
        const data = { blob: 'z'.repeat(512 * 1024) };
        await store.appendToStream(s, [event('Large', data)], { expectedVersion: 'no_stream' });
        expect((await store.readStream(s)).events[0]!.data).toStrictEqual(data);
      });
    });
  });
}

// ---- shared helpers -----------------------------------------------------------------------------

/** Read options no store accepts, with the field each must name. */
export const BAD_READ_STREAM_OPTIONS: { label: string; options: unknown; path: string }[] = [
  { label: "fromVersion 'abc'", options: { fromVersion: 'abc' }, path: 'fromVersion' },
  { label: 'fromVersion as a number', options: { fromVersion: 3 }, path: 'fromVersion' },
  { label: 'a negative fromVersion', options: { fromVersion: -1n }, path: 'fromVersion' },
  { label: 'fromVersion 2^63', options: { fromVersion: 2n ** 63n }, path: 'fromVersion' },
  { label: 'a negative maxCount', options: { maxCount: -1 }, path: 'maxCount' },
  { label: 'a fractional maxCount', options: { maxCount: 1.5 }, path: 'maxCount' },
  { label: 'maxCount NaN', options: { maxCount: Number.NaN }, path: 'maxCount' },
  { label: "maxCount '10'", options: { maxCount: '10' }, path: 'maxCount' },
  { label: "direction 'up'", options: { direction: 'up' }, path: 'direction' },
];

/** Log read options no store accepts, with the field each must name. */
export const BAD_READ_ALL_OPTIONS: { label: string; options: unknown; path: string }[] = [
  { label: 'after as a number', options: { after: 5 }, path: 'after' },
  { label: 'a negative after', options: { after: -1n }, path: 'after' },
  { label: 'a negative maxCount', options: { maxCount: -5 }, path: 'maxCount' },
  { label: 'a NUL byte in a stream prefix', options: { filter: { streamPrefixes: ['ab\u0000c'] } }, path: 'filter.streamPrefixes.0' },
  { label: 'a lone surrogate in a stream prefix', options: { filter: { streamPrefixes: ['ok', 'a\uD800'] } }, path: 'filter.streamPrefixes.1' },
  { label: 'a stream prefix that is not a string', options: { filter: { streamPrefixes: [42] } }, path: 'filter.streamPrefixes.0' },
  { label: 'stream prefixes that are not an array', options: { filter: { streamPrefixes: 'abc' } }, path: 'filter.streamPrefixes' },
  { label: 'a NUL byte in an event type', options: { filter: { eventTypes: ['A\u0000'] } }, path: 'filter.eventTypes.0' },
  { label: 'a filter that is not an object', options: { filter: 'all' }, path: 'filter' },
];

/** The error `promise` rejects with; fails the test if it resolves (or rejects with another class). */
async function rejection<E = unknown>(
  promise: Promise<unknown>,
  errorClass?: abstract new (...args: never[]) => E,
): Promise<E> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    if (errorClass) expect(error).toBeInstanceOf(errorClass);
    return error as E;
  }
  throw new Error(`expected a rejection${errorClass ? ` with ${errorClass.name}` : ''}, got ${String(value)}`);
}

function expectConflict(
  error: unknown,
  expected: { stream: string; expected: ExpectedVersion; actual: bigint | null },
): void {
  expect(error).toBeInstanceOf(WrongExpectedVersionError);
  const e = error as WrongExpectedVersionError;
  expect({ stream: e.stream, expected: e.expected, actual: e.actual }).toEqual(expected);
}

function paths(error: unknown): string[] {
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).issues.map((i) => i.path);
}

function expectIncreasing(values: readonly bigint[]): void {
  for (let i = 1; i < values.length; i++) {
    if (!(values[i]! > values[i - 1]!)) {
      throw new Error(`expected strictly increasing positions, got ${values.map(String).join(', ')}`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
}

async function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
