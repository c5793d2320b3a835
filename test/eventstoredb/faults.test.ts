/**
 * Faults a real server rarely shows on demand, injected by the in-process server, seen through the
 * real client and the adapter: a connection that drops after an append was written, a
 * subscription that drops while catching up or live, and deadlines that expire.
 */
import { randomUUID } from 'node:crypto';
import { EventStoreDBClient } from '@eventstore/db-client';
import {
  AppendOutcomeUnknownError,
  START,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type RecordedEvent,
} from '@ordo/core';
import {
  EventStoreDBCheckpointStore,
  EventStoreDBEventStore,
  EventStoreDBTimeoutError,
  EventStoreDBUnavailableError,
} from '@ordo/eventstoredb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './server/index.js';
import { disposeOf } from './support.js';

const events = (count: number): NewEvent[] => Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type: 'Faulted', data: { i } }));
const ids = (list: readonly { id: string }[]) => list.map((e) => e.id);

async function logOf(store: EventStore, prefix: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll({ filter: { streamPrefixes: [prefix] } })) out.push(e);
  return out;
}

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

describe.each([
  { label: 'BatchAppend', batchAppend: true },
  { label: 'Append', batchAppend: false },
])('faults, appending through $label', ({ batchAppend }) => {
  let server: TestServer;
  let client: EventStoreDBClient;
  // The server's own best-effort id cache is off: what is absorbed here, the adapter absorbs.
  beforeAll(async () => {
    server = await startTestServer({ batchAppend, idempotencyCacheSize: 0 });
    client = EventStoreDBClient.connectionString(server.url);
  });
  afterAll(async () => {
    await disposeOf(client);
    await server.stop();
  });

  describe('the connection drops after the append was written, before the answer', () => {
    it.each<{ mode: ExpectedVersion; existing: number }>([
      { mode: 'no_stream', existing: 0 },
      { mode: 1n, existing: 2 },
      { mode: 'any', existing: 2 },
      { mode: 'stream_exists', existing: 1 },
    ])('under $mode the adapter retries, and the retry is absorbed: written once', async ({ mode, existing }) => {
      const store = new EventStoreDBEventStore(client);
      const prefix = `drop-${randomUUID()}-`;
      const s = `${prefix}s`;
      if (existing > 0) await store.appendToStream(s, events(existing), { expectedVersion: 'no_stream' });
      const batch = events(3);
      server.faults.dropConnectionAfterCommit();
      const fired = server.faults.fired.dropsAfterCommit;
      const result = await store.appendToStream(s, batch, { expectedVersion: mode });
      expect(server.faults.fired.dropsAfterCommit).toBe(fired + 1);
      const read = await store.readStream(s);
      expect(ids(read.events.slice(existing))).toEqual(ids(batch));
      expect(result).toEqual({ nextExpectedVersion: BigInt(existing + 2), lastGlobalPosition: read.events.at(-1)!.globalPosition, duplicate: false });
      expect(ids(await logOf(store, prefix))).toEqual(ids(read.events));
    });

    it('the weakness made up for: with the bare client, a retry under any after the drop writes the batch twice', async () => {
      const s = `bare-${randomUUID()}`;
      const batch = events(2).map((e) => ({ ...e, contentType: 'application/json' as const, metadata: {} }));
      server.faults.dropConnectionAfterCommit();
      await rejection(client.appendToStream(s, batch as never, { expectedRevision: 'any' }));
      await client.appendToStream(s, batch as never, { expectedRevision: 'any' });
      const stored: string[] = [];
      for await (const e of client.readStream(s)) stored.push(e.event!.id);
      expect(stored).toEqual([...ids(batch), ...ids(batch)]);
    });

    it('without retries the caller gets a typed error, and its own retry (any mode) is absorbed', async () => {
      const store = new EventStoreDBEventStore(client, { retries: 0 });
      const prefix = `drop-${randomUUID()}-`;
      const s = `${prefix}s`;
      await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
      const batch = events(2);
      server.faults.dropConnectionAfterCommit();
      const error = await rejection(store.appendToStream(s, batch, { expectedVersion: 0n }));
      expect(error).toBeInstanceOf(AppendOutcomeUnknownError);
      expect((error as Error).cause).toBeInstanceOf(EventStoreDBUnavailableError);
      // The append was written, though the caller could not know: the same append again is recognised,
      // under the expected version it sent, under 'any', and after another writer appended. The server
      // answers the first retry as it answered the lost write, so `duplicate` is not asserted there;
      // once the adapter knows where the ids are, it reports the retries as duplicates.
      const first = await store.appendToStream(s, batch, { expectedVersion: 0n });
      expect(first.nextExpectedVersion).toBe(2n);
      const original = { nextExpectedVersion: 2n, lastGlobalPosition: first.lastGlobalPosition, duplicate: true };
      await store.appendToStream(s, events(1), { expectedVersion: 2n });
      expect(await store.appendToStream(s, batch, { expectedVersion: 'any' })).toEqual(original);
      expect(await store.appendToStream(s, batch, { expectedVersion: 0n })).toEqual(original);
      const read = await store.readStream(s);
      expect(read.version).toBe(3n);
      expect(first.lastGlobalPosition).toBe(read.events[2]!.globalPosition);
      expect(ids(await logOf(store, prefix))).toEqual(ids(read.events));
    });

    it('a checkpoint store retried after the drop finds its own write instead of a conflict', async () => {
      const checkpoints = new EventStoreDBCheckpointStore(client, { retries: 0 });
      const name = `p-${randomUUID()}`;
      await checkpoints.store(name, 100n, null);
      server.faults.dropConnectionAfterCommit();
      await rejection(checkpoints.store(name, 200n, 100n));
      await checkpoints.store(name, 200n, 100n);
      expect(await new EventStoreDBCheckpointStore(client).read(name)).toBe(200n);
    });
  });

  describe('the subscription drops', () => {
    it('mid-catch-up: it resumes after the last delivered event, nothing lost, nothing twice', async () => {
      const store = new EventStoreDBEventStore(client);
      const prefix = `sub-${randomUUID()}-`;
      const start = await store.headPosition();
      const written: NewEvent[] = [];
      for (let i = 0; i < 6; i++) {
        const batch = events(40);
        written.push(...batch);
        await store.appendToStream(`${prefix}${i % 3}`, batch, { expectedVersion: 'any' });
      }
      server.faults.dropSubscriptionAfter(55);
      const dropped = server.faults.fired.subscriptionDrops;
      const received: RecordedEvent[] = [];
      const caughtUp: number[] = [];
      const errors: unknown[] = [];
      const subscription = store.subscribeToAll({
        after: start,
        filter: { streamPrefixes: [prefix] },
        onEvent: (e) => void received.push(e),
        onCaughtUp: () => void caughtUp.push(received.length),
        onError: (e) => void errors.push(e),
      });
      await until(() => caughtUp.length > 0, 'catch-up');
      expect(server.faults.fired.subscriptionDrops).toBe(dropped + 1);
      expect(ids(received)).toEqual(ids(written));
      expect(caughtUp[0]).toBe(written.length);

      // And once live, a drop again loses nothing.
      server.dropConnections();
      const late = events(5);
      await store.appendToStream(`${prefix}late`, late, { expectedVersion: 'no_stream' });
      await until(() => received.length >= written.length + late.length, 'live events');
      await subscription.stop();
      expect(ids(received)).toEqual([...ids(written), ...ids(late)]);
      expect(errors).toEqual([]);
    });

    it('a restarted subscriber resumes from the last position it handled', async () => {
      const store = new EventStoreDBEventStore(client);
      const prefix = `restart-${randomUUID()}-`;
      const start = await store.headPosition();
      const written = events(30);
      await store.appendToStream(`${prefix}s`, written, { expectedVersion: 'no_stream' });
      const first: RecordedEvent[] = [];
      const one = store.subscribeToAll({
        after: start,
        filter: { streamPrefixes: [prefix] },
        onEvent: (e) => void first.push(e),
      });
      await until(() => first.length >= 12, 'the first events');
      await one.stop();
      const resumeAt = first.at(-1)!.globalPosition;

      const again = new EventStoreDBEventStore(client);
      const second: RecordedEvent[] = [];
      const two = again.subscribeToAll({ after: resumeAt, filter: { streamPrefixes: [prefix] }, onEvent: (e) => void second.push(e) });
      await until(() => first.length + second.length >= written.length, 'the rest');
      await two.stop();
      expect([...ids(first), ...ids(second)]).toEqual(ids(written));
    });
  });

  describe('deadlines expire', () => {
    it('before the server writes: a typed error, and nothing of the batch is written', async () => {
      const store = new EventStoreDBEventStore(client, { deadlineMs: 150 });
      const prefix = `deadline-${randomUUID()}-`;
      const s = `${prefix}s`;
      server.faults.delay({ method: 'append', ms: 600, phase: 'before' });
      const error = await rejection(store.appendToStream(s, events(3), { expectedVersion: 'no_stream' }));
      expect(error).toBeInstanceOf(AppendOutcomeUnknownError);
      expect((error as Error).cause).toBeInstanceOf(EventStoreDBTimeoutError);
      await server.faults.settled();
      expect(await store.readStream(s)).toEqual({ version: null, events: [] });
      expect(await logOf(store, prefix)).toEqual([]);
    });

    it('after the server wrote: a typed error, the whole batch is there, and a retry is absorbed', async () => {
      const store = new EventStoreDBEventStore(client, { deadlineMs: 150 });
      const prefix = `deadline-${randomUUID()}-`;
      const s = `${prefix}s`;
      const batch = events(3);
      server.faults.delay({ method: 'append', ms: 600, phase: 'after' });
      const error = await rejection(store.appendToStream(s, batch, { expectedVersion: 'no_stream' }));
      expect(error).toBeInstanceOf(AppendOutcomeUnknownError);
      expect((error as Error).cause).toBeInstanceOf(EventStoreDBTimeoutError);
      await server.faults.settled();
      expect(ids((await store.readStream(s)).events)).toEqual(ids(batch));
      const retried = await store.appendToStream(s, batch, { expectedVersion: 'no_stream' });
      expect(retried.nextExpectedVersion).toBe(2n);
      expect(ids(await logOf(store, prefix))).toEqual(ids(batch));
    });
  });
});

describe('a subscription whose server is gone', () => {
  it('gives up after its resubscribe budget with a typed error through onError', async () => {
    const server = await startTestServer();
    const client = EventStoreDBClient.connectionString(server.url);
    try {
      const store = new EventStoreDBEventStore(client, { subscriptions: { maxResubscribes: 2, resubscribeDelayMs: 5 } });
      const errors: unknown[] = [];
      let caughtUp = false;
      const subscription = store.subscribeToAll({ after: START, onEvent: () => undefined, onCaughtUp: () => (caughtUp = true), onError: (e) => void errors.push(e) });
      await until(() => caughtUp, 'catch-up');
      await server.stop();
      await subscription.done;
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(EventStoreDBUnavailableError);
    } finally {
      await disposeOf(client);
    }
  });
});
