/** What the EventStoreDB adapter does beyond the shared contract. */
import { randomUUID } from 'node:crypto';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { ValidationError, type NewEvent, type RecordedEvent } from '@ordo/core';
import {
  CHECKPOINT_EVENT_TYPE,
  DEFAULT_CHECKPOINT_STREAM_PREFIX,
  EventStoreDBCheckpointStore,
  EventStoreDBEventStore,
  EventStoreDBStreamDeletedError,
} from '@ordo/eventstoredb';
import { describe, expect, it } from 'vitest';
import { inProcessServer } from './support.js';
import { STATISTICS_STREAM } from './server/index.js';

const events = (count: number, type = 'Tested'): NewEvent[] => Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type, data: { i } }));

async function log(store: EventStoreDBEventStore, after: bigint): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll({ after })) out.push(e);
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

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('EventStoreDBEventStore', () => {
  const env = inProcessServer();

  it('readers never see system events or checkpoint streams, though $all holds them', async () => {
    const client = await env.client();
    const store = new EventStoreDBEventStore(client);
    const start = await store.headPosition();
    const s = `vis-${randomUUID()}`;
    const mine = events(2);
    await store.appendToStream(s, mine, { expectedVersion: 'no_stream' });
    const head = await store.headPosition();
    // System events after it: stream metadata, a tombstone, and a checkpoint stream with its metadata.
    await client.setStreamMetadata(s, { maxCount: 100 });
    const gone = `gone-${randomUUID()}`;
    await client.appendToStream(gone, jsonEvent({ type: 'Doomed', data: {} }));
    await client.tombstoneStream(gone);
    await new EventStoreDBCheckpointStore(client).store(`p-${randomUUID()}`, head, null);
    // The node's own statistics records come and go in between; the rest is in this order.
    const raw = (await env.server()).database.log
      .filter((e) => e.stream !== STATISTICS_STREAM)
      .slice(-5)
      .map((e) => e.type);
    expect(raw).toEqual(['$metadata', 'Doomed', '$streamDeleted', '$metadata', CHECKPOINT_EVENT_TYPE]);

    const seen = (await log(store, start)).map((e) => e.type);
    expect(seen).toEqual(['Tested', 'Tested', 'Doomed']);
    expect(await store.headPosition()).toBe((await log(store, start)).at(-1)!.globalPosition);

    const received: RecordedEvent[] = [];
    let caughtUp: bigint | undefined;
    const lastBefore = (await env.server()).database.log.at(-1)!.position; // the checkpoint stream's event
    const subscription = store.subscribeToAll({ after: start, onEvent: (e) => void received.push(e), onCaughtUp: (p) => (caughtUp = p) });
    await until(() => caughtUp !== undefined, 'catch-up');
    await subscription.stop();
    expect(received.map((e) => e.type)).toEqual(['Tested', 'Tested', 'Doomed']);
    // Caught up at the last event a reader sees, though the system records after it are covered too.
    expect(caughtUp).toBe(await store.headPosition());
    expect(caughtUp).toBeLessThan(lastBefore);
  });

  it('a tombstoned stream is a typed error for readers and writers', async () => {
    const client = await env.client();
    const store = new EventStoreDBEventStore(client);
    const s = `tomb-${randomUUID()}`;
    await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
    await client.tombstoneStream(s);
    const read = await rejection(store.readStream(s));
    expect(read).toBeInstanceOf(EventStoreDBStreamDeletedError);
    expect(read).toMatchObject({ stream: s, kind: 'stream_deleted' });
    expect(await rejection(store.appendToStream(s, events(1), { expectedVersion: 'any' }))).toBeInstanceOf(EventStoreDBStreamDeletedError);
  });

  it('an append bigger than the server takes is refused before it is sent', async () => {
    const server = await env.server();
    const store = new EventStoreDBEventStore(await env.client());
    const before = server.database.log.length;
    const big = [0, 1].map(() => ({ id: randomUUID(), type: 'Big', data: { blob: 'x'.repeat(600 * 1024) } }));
    const error = await rejection(store.appendToStream(`big-${randomUUID()}`, big, { expectedVersion: 'any' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['events']);
    expect(server.database.log.length).toBe(before);
  });

  it("when the server's limit is lower than the adapter was told, its refusal is a ValidationError too", async () => {
    const small = inProcessServer({ maxAppendSize: 1000 });
    const store = new EventStoreDBEventStore(await small.client());
    const s = `small-${randomUUID()}`;
    const error = await rejection(store.appendToStream(s, [{ id: randomUUID(), type: 'Big', data: { blob: 'x'.repeat(2000) } }], { expectedVersion: 'any' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(await store.readStream(s)).toEqual({ version: null, events: [] });
  });

  it('a soft-deleted stream reads as missing; writing it again continues its versions', async () => {
    const client = await env.client();
    const store = new EventStoreDBEventStore(client);
    const s = `soft-${randomUUID()}`;
    await store.appendToStream(s, events(2), { expectedVersion: 'no_stream' });
    await client.deleteStream(s);
    expect(await store.readStream(s)).toEqual({ version: null, events: [] });
    const again = await store.appendToStream(s, events(1), { expectedVersion: 'no_stream' });
    expect(again.nextExpectedVersion).toBe(2n);
    expect((await store.readStream(s)).events.map((e) => e.streamVersion)).toEqual([2n]);
  });

  it('an id this client wrote earlier in the stream, sent again under the current version, is a retry: nothing written', async () => {
    const store = new EventStoreDBEventStore(await env.client());
    const s = `seen-${randomUUID()}`;
    const [a, b] = events(2);
    const original = await store.appendToStream(s, [a!], { expectedVersion: 'no_stream' });
    await store.appendToStream(s, [b!], { expectedVersion: 0n });
    expect(await store.appendToStream(s, [a!], { expectedVersion: 1n })).toEqual({ ...original, duplicate: true });
    expect((await store.readStream(s)).events.map((e) => e.id)).toEqual([a!.id, b!.id]);
  });

  it('the documented limit: another process sending such an id under the current version writes it again', async () => {
    const server = await env.server();
    const s = `unseen-${randomUUID()}`;
    const [a, b] = events(2);
    await new EventStoreDBEventStore(await env.client()).appendToStream(s, [a!, b!], { expectedVersion: 'no_stream' });
    const elsewhere = EventStoreDBClient.connectionString(server.url);
    try {
      const store = new EventStoreDBEventStore(elsewhere);
      await store.appendToStream(s, [a!], { expectedVersion: 1n });
      expect((await store.readStream(s)).events.map((e) => e.id)).toEqual([a!.id, b!.id, a!.id]);
    } finally {
      await elsewhere.dispose();
    }
  });

  it('close() leaves the client usable by the service that owns it', async () => {
    const client = await env.client();
    const store = new EventStoreDBEventStore(client);
    await store.close();
    await expect(store.readStream('x')).rejects.toThrow(/closed/);
    const other = new EventStoreDBEventStore(client);
    expect((await other.appendToStream(`own-${randomUUID()}`, events(1), { expectedVersion: 'no_stream' })).nextExpectedVersion).toBe(0n);
  });
});

describe('EventStoreDBCheckpointStore', () => {
  const env = inProcessServer();

  it('keeps one stream per projection, bounded by $maxCount metadata', async () => {
    const client = await env.client();
    const checkpoints = new EventStoreDBCheckpointStore(client, { maxCount: 3 });
    const name = `bounded-${randomUUID()}`;
    let expected: bigint | null = null;
    for (let p = 1n; p <= 8n; p++) {
      await checkpoints.store(name, p * 10n, expected);
      expected = p * 10n;
    }
    const stream = `${DEFAULT_CHECKPOINT_STREAM_PREFIX}${name}`;
    expect(checkpoints.streamOf(name)).toBe(stream);
    expect((await client.getStreamMetadata(stream)).metadata).toMatchObject({ maxCount: 3 });
    const kept: bigint[] = [];
    for await (const e of client.readStream(stream)) kept.push(e.event!.revision);
    expect(kept).toEqual([5n, 6n, 7n]);
    expect(await new EventStoreDBCheckpointStore(client).read(name)).toBe(80n);
  });

  it('fences a second copy out: its write, based on what it last saw, is a conflict naming the stored position', async () => {
    const client = await env.client();
    const a = new EventStoreDBCheckpointStore(client);
    const b = new EventStoreDBCheckpointStore(client);
    const name = `fenced-${randomUUID()}`;
    await a.store(name, 1n, null);
    expect(await b.read(name)).toBe(1n);
    await a.store(name, 2n, 1n);
    const error = await rejection(b.store(name, 3n, 1n));
    expect(error).toMatchObject({ name: 'CheckpointConflictError', projection: name, expected: 1n, actual: 2n });
    expect(await b.read(name)).toBe(2n);
    await b.store(name, 3n, 2n);
    expect(await a.read(name)).toBe(3n);
  });
});
