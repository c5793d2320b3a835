/**
 * Where the in-process server behaves as a real KurrentDB / EventStoreDB node, checked through a
 * client and the adapter: append deadlines in either protocol field, system records in `$all`,
 * checkpoints of filtered subscriptions, stream subscriptions, idempotent retries answered with the
 * original position, and soft-delete edge cases. The expectations come from the servers' documented
 * behaviour.
 *
 * Loads neither client package: `fidelity.test.ts` runs it with `@eventstore/db-client`,
 * `kurrent-fidelity.test.ts` with `@kurrent/kurrentdb-client` (they cannot share a process).
 */
import { randomUUID } from 'node:crypto';
import { AppendOutcomeUnknownError, START, createProjectionRunner, type NewEvent, type RecordedEvent } from '@ordo/core';
import { EventStoreDBCheckpointStore, EventStoreDBEventStore, EventStoreDBTimeoutError, type EventStoreClient } from '@ordo/eventstoredb';
import { describe, expect, it } from 'vitest';
import type { TestServer } from './server/index.js';

/** A client position, as both clients give it. */
interface Position {
  commit: bigint;
  prepare: bigint;
}

/** A read or subscription result, as both clients give it. */
interface Resolved {
  event?: { id: string; type: string; streamId: string; revision: bigint; position?: Position };
}

/** A subscription, as both clients give it: a Node stream of resolved events. */
interface RawSubscription {
  on(event: 'data', listener: (resolved: Resolved) => void): unknown;
  on(event: 'caughtUp' | 'error', listener: (arg: unknown) => void): unknown;
  unsubscribe(): Promise<void>;
}

/** The calls of either client these tests make (the two share these shapes). */
export interface RawClient {
  appendToStream(stream: string, events: unknown[], options?: Record<string, unknown>): Promise<{ nextExpectedRevision: bigint; position?: Position }>;
  readAll(options?: Record<string, unknown>): AsyncIterable<Resolved>;
  readStream(stream: string, options?: Record<string, unknown>): AsyncIterable<Resolved>;
  subscribeToAll(options?: Record<string, unknown>): RawSubscription;
  subscribeToStream(stream: string, options?: Record<string, unknown>): RawSubscription;
  deleteStream(stream: string, options?: Record<string, unknown>): Promise<unknown>;
  setStreamMetadata(stream: string, metadata: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
  getStreamMetadata(stream: string): Promise<{ metadata?: Record<string, unknown> }>;
}

/** How the suite reaches the server and a client of one package. */
export interface FidelityEnv {
  server(): Promise<TestServer>;
  client(): Promise<RawClient>;
}

const events = (count: number, type = 'Tested'): NewEvent[] => Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type, data: { i } }));
const raw = (type = 'Tested') => ({ id: randomUUID(), type, contentType: 'application/json', data: {}, metadata: {} });
/** Expected revision in both clients' option names. */
const expecting = (revision: unknown) => ({ expectedRevision: revision, streamState: revision });
const ids = (list: readonly { id: string }[]) => list.map((e) => e.id);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function collect(iterable: AsyncIterable<Resolved>): Promise<Resolved[]> {
  const out: Resolved[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

async function logOf(store: EventStoreDBEventStore, prefix: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll({ filter: { streamPrefixes: [prefix] } })) out.push(e);
  return out;
}

const typeOf = (error: unknown) => (error as { type?: unknown }).type;
const store = async (env: FidelityEnv, options?: ConstructorParameters<typeof EventStoreDBEventStore>[1]) =>
  new EventStoreDBEventStore((await env.client()) as unknown as EventStoreClient, options);

/** Registers the suite for one client package. */
export function describeServerFidelity(label: string, env: FidelityEnv): void {
  describe(`test server as a real node, ${label}`, () => {
    describeDeadlines(env);
    describeSystemRecords(env);
    describeCheckpoints(env);
    describeStreamSubscriptions(env);
    describeIdempotentRetries(env);
    describeSoftDelete(env);
  });
}

function describeDeadlines(env: FidelityEnv): void {
  describe('deadlines expire', () => {
    it('before the server writes: a typed error, and nothing of the batch is written', async () => {
      const server = await env.server();
      const s = await store(env, { deadlineMs: 150 });
      const prefix = `deadline-${randomUUID()}-`;
      server.faults.delay({ method: 'append', ms: 600, phase: 'before' });
      const error = await rejection(s.appendToStream(`${prefix}s`, events(3), { expectedVersion: 'no_stream' }));
      // The append was sent, so whether it was written is unknown; the deadline is the cause.
      expect(error).toBeInstanceOf(AppendOutcomeUnknownError);
      expect((error as Error).cause).toBeInstanceOf(EventStoreDBTimeoutError);
      await server.faults.settled();
      expect(await s.readStream(`${prefix}s`)).toEqual({ version: null, events: [] });
      expect(await logOf(s, prefix)).toEqual([]);
    });

    it('after the server wrote: a typed error, the whole batch is there, and a retry is absorbed', async () => {
      const server = await env.server();
      const s = await store(env, { deadlineMs: 150 });
      const prefix = `deadline-${randomUUID()}-`;
      const batch = events(3);
      server.faults.delay({ method: 'append', ms: 600, phase: 'after' });
      const error = await rejection(s.appendToStream(`${prefix}s`, batch, { expectedVersion: 'no_stream' }));
      // The append was sent, so whether it was written is unknown; the deadline is the cause.
      expect(error).toBeInstanceOf(AppendOutcomeUnknownError);
      expect((error as Error).cause).toBeInstanceOf(EventStoreDBTimeoutError);
      await server.faults.settled();
      expect(ids((await s.readStream(`${prefix}s`)).events)).toEqual(ids(batch));
      expect((await s.appendToStream(`${prefix}s`, batch, { expectedVersion: 'no_stream' })).nextExpectedVersion).toBe(2n);
      expect(ids(await logOf(s, prefix))).toEqual(ids(batch));
    });
  });
}

function describeSystemRecords(env: FidelityEnv): void {
  describe('system records in $all', () => {
    it('$all starts with system records and grows without user writes', async () => {
      const client = await env.client();
      const server = await env.server();
      const first = await collect(client.readAll({ fromPosition: 'start', maxCount: 3 }));
      for (const e of first) {
        expect(e.event!.type.startsWith('$')).toBe(true);
        expect(e.event!.streamId.startsWith('$')).toBe(true);
      }
      const last = async () => (await collect(client.readAll({ direction: 'backwards', fromPosition: 'end', maxCount: 1 })))[0]!.event!;
      const before = await last();
      const written = server.systemActivity!.count;
      await until(() => server.systemActivity!.count > written, 'a background system record');
      const after = await last();
      expect(after.position!.commit).toBeGreaterThan(before.position!.commit);
      expect(after.type.startsWith('$')).toBe(true);
    });

    it('the head is the last user event; a runner catches up to it and checkpoints it, not a system record', async () => {
      const server = await env.server();
      const s = await store(env);
      const prefix = `sys-${randomUUID()}-`;
      const written = await s.appendToStream(`${prefix}s`, events(3), { expectedVersion: 'no_stream' });
      const records = server.systemActivity!.count;
      await until(() => server.systemActivity!.count > records + 1, 'system records after the user events');
      expect(server.database.log.at(-1)!.position).toBeGreaterThan(written.lastGlobalPosition);
      expect(await s.headPosition()).toBe(written.lastGlobalPosition);

      const client = await env.client();
      const checkpoints = new EventStoreDBCheckpointStore(client as unknown as EventStoreClient);
      const handled: RecordedEvent[] = [];
      const name = `sys-${randomUUID()}`;
      const runner = createProjectionRunner({
        store: s,
        checkpoints,
        projection: { name, streamPrefixes: [prefix], handle: (e: RecordedEvent) => void handled.push(e) },
      });
      await runner.start();
      try {
        await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
        expect(handled).toHaveLength(3);
        expect(runner.position).toBe(await s.headPosition());
      } finally {
        await runner.stop();
      }
      expect(await checkpoints.read(name)).toBe(await s.headPosition());
    });
  });
}

function describeCheckpoints(env: FidelityEnv): void {
  describe('checkpoints of filtered subscriptions', () => {
    it('every 32 examined events, matching or not, and at the last examined position when catch-up ends', async () => {
      const client = await env.client();
      const s = await store(env);
      const prefix = `cp-${randomUUID()}-`;
      const start = await s.headPosition();
      const matching = await s.appendToStream(`${prefix}s`, events(64), { expectedVersion: 'no_stream' });
      const other = await s.appendToStream(`other-${randomUUID()}`, events(40), { expectedVersion: 'no_stream' });
      const checkpoints: bigint[] = [];
      const received: bigint[] = [];
      let atCaughtUp: bigint[] | undefined;
      const subscription = client.subscribeToAll({
        fromPosition: start === START ? 'start' : { commit: start, prepare: start },
        filter: { filterOn: 'streamName', prefixes: [prefix], checkpointInterval: 1, checkpointReached: (_: unknown, p: Position) => void checkpoints.push(p.commit) },
      });
      subscription.on('data', (e) => void received.push(e.event!.position!.commit));
      subscription.on('caughtUp', () => (atCaughtUp ??= [...checkpoints]));
      try {
        await until(() => atCaughtUp !== undefined, 'caught up');
      } finally {
        await subscription.unsubscribe();
      }
      expect(received).toHaveLength(64);
      // Within the run of matching events: the server counts what it examines, not what it sends.
      expect(atCaughtUp!.some((p) => p > start && p < matching.lastGlobalPosition)).toBe(true);
      // The last one before the caught-up notice covers everything the catch-up examined.
      expect(atCaughtUp!.at(-1)).toBeGreaterThanOrEqual(other.lastGlobalPosition);
    });

    it('the adapter reports caught-up past a long run of non-matching events without reading them', async () => {
      const server = await env.server();
      const s = await store(env);
      const prefix = `sparse-${randomUUID()}-`;
      const start = await s.headPosition();
      const [wanted] = events(1);
      await s.appendToStream(`${prefix}s`, [wanted!], { expectedVersion: 'no_stream' });
      const noise = `noise-${randomUUID()}`;
      for (let i = 0; i < 6; i++) await s.appendToStream(noise, events(500, 'Noise'), { expectedVersion: 'any' });
      const head = await s.headPosition();
      const readBefore = server.stats.allReadEventsSent;
      const received: RecordedEvent[] = [];
      let caughtUp: bigint | undefined;
      const subscription = s.subscribeToAll({
        after: start,
        filter: { streamPrefixes: [prefix] },
        onEvent: (e) => void received.push(e),
        onCaughtUp: (p) => (caughtUp = p),
      });
      try {
        await until(() => caughtUp !== undefined && caughtUp >= head, 'caught up past the noise');
      } finally {
        await subscription.stop();
      }
      expect(ids(received)).toEqual([wanted!.id]);
      // Without the server's checkpoints the probe would read the 3,000 events it skips.
      expect(server.stats.allReadEventsSent - readBefore).toBeLessThan(300);
    });
  });
}

function describeStreamSubscriptions(env: FidelityEnv): void {
  describe('subscriptions to one stream', () => {
    it('catch up after a revision (exclusive), notice being caught up, then deliver live events', async () => {
      const client = await env.client();
      const s = `one-${randomUUID()}`;
      const first = [raw(), raw(), raw()];
      await client.appendToStream(s, first, expecting('no_stream'));
      const received: Resolved[] = [];
      let caughtUpAt: number | undefined;
      const subscription = client.subscribeToStream(s, { fromRevision: 0n });
      subscription.on('data', (e) => void received.push(e));
      subscription.on('caughtUp', () => (caughtUpAt ??= received.length));
      try {
        await until(() => caughtUpAt !== undefined, 'caught up');
        const late = [raw(), raw()];
        await client.appendToStream(s, late, expecting(2n));
        await client.appendToStream(`one-${randomUUID()}`, [raw()], expecting('any')); // another stream: not delivered
        await until(() => received.length >= 4, 'live events');
        expect(caughtUpAt).toBe(2);
        expect(received.map((e) => e.event!.id)).toEqual([first[1]!.id, first[2]!.id, ...ids(late)]);
        expect(received.map((e) => e.event!.revision)).toEqual([1n, 2n, 3n, 4n]);
      } finally {
        await subscription.unsubscribe();
      }
    });

    it('from the start of a stream that does not exist yet: its first events arrive live', async () => {
      const client = await env.client();
      const s = `one-${randomUUID()}`;
      const received: Resolved[] = [];
      const subscription = client.subscribeToStream(s, { fromRevision: 'start' });
      subscription.on('data', (e) => void received.push(e));
      try {
        const batch = [raw(), raw()];
        await client.appendToStream(s, batch, expecting('no_stream'));
        await until(() => received.length >= 2, 'the first events');
        expect(received.map((e) => e.event!.id)).toEqual(ids(batch));
      } finally {
        await subscription.unsubscribe();
      }
    });
  });
}

function describeIdempotentRetries(env: FidelityEnv): void {
  describe('idempotent retries', () => {
    it.each([
      { label: 'an exact revision behind the stream', expected: 0n },
      { label: 'any, from the id cache', expected: 'any' },
    ])('under $label, the retry is acknowledged with the original write position', async ({ expected }) => {
      const client = await env.client();
      const s = `idem-${randomUUID()}`;
      await client.appendToStream(s, [raw()], expecting('no_stream'));
      const batch = [raw(), raw()];
      const first = await client.appendToStream(s, batch, expecting(0n));
      const again = await client.appendToStream(s, batch, expecting(expected));
      expect(again.nextExpectedRevision).toBe(2n);
      expect(again.position).toEqual(first.position);
      expect(await collect(client.readStream(s))).toHaveLength(3);
    });
  });
}

function describeSoftDelete(env: FidelityEnv): void {
  describe('soft delete', () => {
    it.each(['any', 'no_stream'])('of a stream that never existed, under %s, succeeds; it can be written after', async (expected) => {
      const client = await env.client();
      const s = `del-${randomUUID()}`;
      await client.deleteStream(s, { expectedRevision: expected });
      const written = await client.appendToStream(s, [raw()], expecting('no_stream'));
      expect(written.nextExpectedRevision).toBe(0n);
    });

    // Neither client can send `stream_exists` with a delete (both send it as a revision, which
    // fails to serialise), so these two rules are checked on the server's state directly.
    it('of a stream that never existed, under stream_exists, is a wrong expected version', async () => {
      const { database } = await env.server();
      const outcome = database.softDelete(`del-${randomUUID()}`, { kind: 'stream_exists' });
      expect(outcome).toEqual({ kind: 'wrong_expected_version', currentRevision: null, expected: { kind: 'stream_exists' } });
    });

    it('again under stream_exists is refused: the stream is deleted', async () => {
      const client = await env.client();
      const { database } = await env.server();
      const s = `del-${randomUUID()}`;
      await client.appendToStream(s, [raw(), raw()], expecting('no_stream'));
      await client.deleteStream(s, { expectedRevision: 1n });
      expect(database.softDelete(s, { kind: 'stream_exists' })).toEqual({ kind: 'stream_deleted' });
      // Under any it is deleted again, harmlessly: still not found, revisions kept.
      await client.deleteStream(s, { expectedRevision: 'any' });
      expect(typeOf(await rejection(collect(client.readStream(s))))).toBe('stream-not-found');
    });

    it('keeps the stream metadata and sets truncate-before; writing again continues the revisions', async () => {
      const client = await env.client();
      const s = `del-${randomUUID()}`;
      await client.appendToStream(s, [raw(), raw(), raw()], expecting('no_stream'));
      await client.setStreamMetadata(s, { maxCount: 50, custom: { owner: 'ordo' } });
      await client.deleteStream(s, { expectedRevision: 2n });
      const { metadata } = await client.getStreamMetadata(s);
      expect(metadata).toMatchObject({ maxCount: 50, truncateBefore: 3, custom: { owner: 'ordo' } });
      const written = await client.appendToStream(s, [raw()], expecting('any'));
      expect(written.nextExpectedRevision).toBe(3n);
      expect((await collect(client.readStream(s))).map((e) => e.event!.revision)).toEqual([3n]);
    });
  });
}
