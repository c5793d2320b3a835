/**
 * The in-process server's own tests: what it promises, checked through the unmodified client, the
 * way EventStoreDB documents it. Both append calls are covered: BatchAppend (offered by servers
 * since 21.10, and then used by the client) and the older Append.
 */
import { randomUUID } from 'node:crypto';
import {
  ANY,
  BACKWARDS,
  DeadlineExceededError,
  END,
  FORWARDS,
  MaxAppendSizeExceededError,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  EventStoreDBClient,
  type AppendExpectedRevision,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { TOMBSTONE_REVISION } from './server/index.js';
import { inProcessServer } from './support.js';

const event = (type = 'Tested', data: Record<string, unknown> = {}) => jsonEvent({ id: randomUUID(), type, data });
const stream = () => `s-${randomUUID()}`;

async function read(client: EventStoreDBClient, name: string, options: Parameters<EventStoreDBClient['readStream']>[1] = {}) {
  const out: ResolvedEvent[] = [];
  for await (const e of client.readStream(name, options)) out.push(e);
  return out;
}

async function readAll(client: EventStoreDBClient, options: Parameters<EventStoreDBClient['readAll']>[0] = {}) {
  const out: AllStreamResolvedEvent[] = [];
  for await (const e of client.readAll(options)) out.push(e);
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

describe.each([
  { label: 'BatchAppend', batchAppend: true },
  { label: 'Append', batchAppend: false },
])('test server appends through $label', ({ batchAppend }) => {
  const env = inProcessServer({ batchAppend });

  describe('expected revisions', () => {
    it('any creates a stream and appends to it; the result carries the revision and the position', async () => {
      const client = await env.client();
      const s = stream();
      const first = await client.appendToStream(s, [event(), event()], { expectedRevision: ANY });
      expect(first.nextExpectedRevision).toBe(1n);
      const second = await client.appendToStream(s, event(), { expectedRevision: ANY });
      expect(second.nextExpectedRevision).toBe(2n);
      expect(second.position!.commit).toBeGreaterThan(first.position!.commit);
      expect(second.position!.prepare).toBe(second.position!.commit);
    });

    it.each<{ label: string; existing: number; expected: AppendExpectedRevision; current: bigint | 'no_stream' }>([
      { label: 'no_stream on an existing stream', existing: 2, expected: NO_STREAM, current: 1n },
      { label: 'stream_exists on a missing stream', existing: 0, expected: STREAM_EXISTS, current: 'no_stream' },
      { label: 'a revision behind', existing: 3, expected: 0n, current: 2n },
      { label: 'a revision ahead', existing: 1, expected: 4n, current: 0n },
      { label: 'a revision on a missing stream', existing: 0, expected: 0n, current: 'no_stream' },
    ])('$label fails with WrongExpectedVersionError naming stream, expected and current', async (c) => {
      const client = await env.client();
      const s = stream();
      if (c.existing > 0) await client.appendToStream(s, Array.from({ length: c.existing }, () => event()));
      const error = await rejection(client.appendToStream(s, [event()], { expectedRevision: c.expected }));
      expect(error).toBeInstanceOf(WrongExpectedVersionError);
      expect(error).toMatchObject({ streamName: s, expectedVersion: c.expected, actualVersion: c.current });
      expect(await read(client, s).catch(() => [])).toHaveLength(c.existing);
    });

    it('stream_exists accepts a stream that has only metadata', async () => {
      const client = await env.client();
      const s = stream();
      await client.setStreamMetadata(s, { maxCount: 5 });
      const result = await client.appendToStream(s, event(), { expectedRevision: STREAM_EXISTS });
      expect(result.nextExpectedRevision).toBe(0n);
    });
  });

  describe('idempotency, as documented', () => {
    it('an exact revision behind the stream, with the same ids after it, is acknowledged and writes nothing', async () => {
      const client = await env.client();
      const s = stream();
      await client.appendToStream(s, event(), { expectedRevision: NO_STREAM });
      const batch = [event(), event()];
      const first = await client.appendToStream(s, batch, { expectedRevision: 0n });
      await client.appendToStream(s, event(), { expectedRevision: 2n });
      const again = await client.appendToStream(s, batch, { expectedRevision: 0n });
      expect(again.nextExpectedRevision).toBe(2n);
      expect(again.position).toEqual(first.position); // an acknowledged retry carries the original write's position
      expect(await read(client, s)).toHaveLength(4);
    });

    it('no_stream counts as revision -1: the creating batch sent again is acknowledged', async () => {
      const client = await env.client();
      const s = stream();
      const batch = [event(), event()];
      await client.appendToStream(s, batch, { expectedRevision: NO_STREAM });
      expect((await client.appendToStream(s, batch, { expectedRevision: NO_STREAM })).nextExpectedRevision).toBe(1n);
      expect(await read(client, s)).toHaveLength(2);
    });

    it('an exact revision behind with partly matching ids is a wrong expected version', async () => {
      const client = await env.client();
      const s = stream();
      const batch = [event(), event()];
      await client.appendToStream(s, batch, { expectedRevision: NO_STREAM });
      const error = await rejection(client.appendToStream(s, [batch[0]!, event()], { expectedRevision: NO_STREAM }));
      expect(error).toBeInstanceOf(WrongExpectedVersionError);
      expect(await read(client, s)).toHaveLength(2);
    });

    it('an exact revision equal to the stream writes, even ids that are already there', async () => {
      const client = await env.client();
      const s = stream();
      const batch = [event()];
      await client.appendToStream(s, batch, { expectedRevision: NO_STREAM });
      await client.appendToStream(s, batch, { expectedRevision: 0n });
      expect((await read(client, s)).map((e) => e.event!.id)).toEqual([batch[0]!.id, batch[0]!.id]);
    });

    it('any: recognised while the ids are in the server cache, written again once they left it', async () => {
      const env2 = await env.server();
      const client = await env.client();
      const s = stream();
      const batch = [event(), event()];
      await client.appendToStream(s, batch, { expectedRevision: ANY });
      expect((await client.appendToStream(s, batch, { expectedRevision: ANY })).nextExpectedRevision).toBe(1n);
      expect(await read(client, s)).toHaveLength(2);
      env2.database.forgetEventIds();
      expect((await client.appendToStream(s, batch, { expectedRevision: ANY })).nextExpectedRevision).toBe(3n);
      expect(await read(client, s)).toHaveLength(4);
    });

    it('the same id may be stored in two streams', async () => {
      const client = await env.client();
      const e = event();
      await client.appendToStream(stream(), e, { expectedRevision: NO_STREAM });
      const other = stream();
      await client.appendToStream(other, e, { expectedRevision: NO_STREAM });
      expect((await read(client, other))[0]!.event!.id).toBe(e.id);
    });
  });

  describe('reads', () => {
    it('read a stream forwards and backwards, from a revision, at most maxCount', async () => {
      const client = await env.client();
      const s = stream();
      const batch = Array.from({ length: 5 }, (_, i) => event('Tested', { i }));
      await client.appendToStream(s, batch);
      const ids = (list: ResolvedEvent[]) => list.map((e) => e.event!.id);
      expect(ids(await read(client, s))).toEqual(batch.map((e) => e.id));
      expect(ids(await read(client, s, { fromRevision: 2n, maxCount: 2 }))).toEqual([batch[2]!.id, batch[3]!.id]);
      expect(ids(await read(client, s, { direction: BACKWARDS, fromRevision: END, maxCount: 2 }))).toEqual([batch[4]!.id, batch[3]!.id]);
      expect(ids(await read(client, s, { direction: BACKWARDS, fromRevision: 1n }))).toEqual([batch[1]!.id, batch[0]!.id]);
      expect(await read(client, s, { fromRevision: 5n })).toEqual([]);
      const [first] = await read(client, s);
      expect(first!.event).toMatchObject({ streamId: s, revision: 0n, type: 'Tested', data: { i: 0 }, isJson: true });
      expect(first!.event!.position!.commit).toBeGreaterThan(0n);
      expect(first!.event!.created).toBeInstanceOf(Date);
    });

    it('a missing stream is StreamNotFoundError', async () => {
      const client = await env.client();
      expect(await rejection(read(client, stream()))).toBeInstanceOf(StreamNotFoundError);
    });

    it('$all holds every event in commit order, forwards and backwards, from a position', async () => {
      const client = await env.client();
      const s = stream();
      await client.appendToStream(s, [event(), event(), event()]);
      const all = await readAll(client);
      const mine = all.filter((e) => e.event!.streamId === s);
      expect(mine).toHaveLength(3);
      const positions = all.map((e) => e.event!.position.commit);
      expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
      expect(new Set(positions).size).toBe(positions.length);
      const from = mine[1]!.event!.position;
      const after = await readAll(client, { fromPosition: from, maxCount: 2 });
      expect(after.map((e) => e.event!.id)).toEqual([mine[1]!.event!.id, mine[2]!.event!.id]); // forwards includes the position
      // The node writes system records meanwhile: the last event is the one read last, or a later one.
      const backwards = await readAll(client, { direction: BACKWARDS, fromPosition: END, maxCount: 1 });
      expect(backwards[0]!.event!.position.commit).toBeGreaterThanOrEqual(all.at(-1)!.event!.position.commit);
      const before = await readAll(client, { direction: BACKWARDS, fromPosition: mine[2]!.event!.position, maxCount: 1 });
      expect(before.map((e) => e.event!.id)).toEqual([mine[1]!.event!.id]); // backwards excludes the position
    });
  });

  describe('subscriptions to $all', () => {
    it('catch up, say so, then go live; a position is exclusive; filters apply on the server', async () => {
      const client = await env.client();
      const prefix = `sub-${randomUUID()}-`;
      const type = `Wanted${randomUUID().slice(0, 8)}`;
      await client.appendToStream(`${prefix}a`, [event(type), event('Other'), event(type)]);
      const start = (await readAll(client, { direction: BACKWARDS, fromPosition: END, maxCount: 1 }))[0]!;
      const subscription = client.subscribeToAll({ fromPosition: START, filter: eventTypeFilter({ regex: `^${type}$` }) });
      const received: string[] = [];
      let caughtUpAfter = -1;
      subscription.on('caughtUp', () => (caughtUpAfter = received.length));
      const done = (async () => {
        for await (const e of subscription) {
          received.push(e.event!.type);
          if (received.length === 3) break;
        }
      })();
      await until(() => caughtUpAfter >= 0);
      expect(caughtUpAfter).toBe(2);
      await client.appendToStream(`${prefix}b`, [event('Other'), event(type)]);
      await done;
      expect(received).toEqual([type, type, type]);

      const byPrefix = client.subscribeToAll({ fromPosition: start.event!.position, filter: streamNameFilter({ prefixes: [`${prefix}b`] }) });
      const fromPrefix: string[] = [];
      for await (const e of byPrefix) {
        fromPrefix.push(`${e.event!.streamId}:${e.event!.type}`);
        if (fromPrefix.length === 2) break;
      }
      expect(fromPrefix).toEqual([`${prefix}b:Other`, `${prefix}b:${type}`]);
    });

    it('a filtered subscription reports checkpoints while it skips events', async () => {
      const client = await env.client();
      await client.appendToStream(stream(), Array.from({ length: 40 }, () => event('Skipped')));
      const checkpoints: bigint[] = [];
      const subscription = client.subscribeToAll({
        fromPosition: START,
        filter: eventTypeFilter({ prefixes: ['NeverWritten'], maxSearchWindow: 10, checkpointReached: (_s, p) => void checkpoints.push(p.commit) }),
      });
      subscription.on('data', () => undefined);
      await until(() => checkpoints.length >= 4);
      await subscription.unsubscribe();
      expect([...checkpoints].sort((a, b) => (a < b ? -1 : 1))).toEqual(checkpoints);
    });

    it('excludeSystemEvents drops $-types such as stream metadata', async () => {
      const client = await env.client();
      const s = stream();
      await client.setStreamMetadata(s, { maxCount: 3 });
      await client.appendToStream(s, event('Visible'));
      const all = await readAll(client);
      expect(all.some((e) => e.event!.streamId === `$$${s}` && e.event!.type === '$metadata')).toBe(true);
      const subscription = client.subscribeToAll({ fromPosition: START, filter: excludeSystemEvents() });
      const types: string[] = [];
      subscription.on('caughtUp', () => void subscription.unsubscribe());
      for await (const e of subscription) {
        types.push(e.event!.type);
        if (e.event!.streamId === s) break;
      }
      expect(types.every((t) => !t.startsWith('$'))).toBe(true);
    });
  });

  describe('metadata and deletes', () => {
    it('$maxCount: a stream read returns only the last events; $all keeps them all', async () => {
      const client = await env.client();
      const s = stream();
      await client.setStreamMetadata(s, { maxCount: 2 });
      expect((await client.getStreamMetadata(s)).metadata).toMatchObject({ maxCount: 2 });
      await client.appendToStream(s, [event('A'), event('B'), event('C')]);
      expect((await read(client, s)).map((e) => [e.event!.type, e.event!.revision])).toEqual([
        ['B', 1n],
        ['C', 2n],
      ]);
      expect((await readAll(client)).filter((e) => e.event!.streamId === s)).toHaveLength(3);
    });

    it('soft delete: the stream reads as not found, and appending continues its revisions', async () => {
      const client = await env.client();
      const s = stream();
      await client.appendToStream(s, [event(), event()]);
      await client.deleteStream(s, { expectedRevision: 1n });
      expect(await rejection(read(client, s))).toBeInstanceOf(StreamNotFoundError);
      const again = await client.appendToStream(s, event('Again'), { expectedRevision: NO_STREAM });
      expect(again.nextExpectedRevision).toBe(2n);
      expect((await read(client, s)).map((e) => [e.event!.type, e.event!.revision])).toEqual([['Again', 2n]]);
    });

    it('soft delete with a wrong expected revision fails', async () => {
      const client = await env.client();
      const s = stream();
      await client.appendToStream(s, [event(), event()]);
      const error = await rejection(client.deleteStream(s, { expectedRevision: 0n }));
      expect(error).toBeInstanceOf(WrongExpectedVersionError);
      expect(error).toMatchObject({ streamName: s, expectedVersion: 0n, actualVersion: 1n });
    });

    it('tombstone: reads and appends fail with StreamDeletedError; $all shows $streamDeleted', async () => {
      const client = await env.client();
      const s = stream();
      await client.appendToStream(s, event());
      await client.tombstoneStream(s);
      expect(await rejection(read(client, s))).toBeInstanceOf(StreamDeletedError);
      const error = await rejection(client.appendToStream(s, event(), { expectedRevision: ANY }));
      expect(error).toBeInstanceOf(StreamDeletedError);
      expect(error).toMatchObject({ streamName: s });
      expect(await rejection(client.tombstoneStream(s))).toBeInstanceOf(StreamDeletedError);
      const marker = (await readAll(client)).find((e) => e.event!.streamId === s && e.event!.type === '$streamDeleted');
      expect(marker!.event!.revision).toBe(TOMBSTONE_REVISION);
    });
  });

  it('an append over the size limit fails with MaxAppendSizeExceededError and writes nothing', async () => {
    const client = await env.client();
    const s = stream();
    const big = (n: number) => event('Big', { blob: 'x'.repeat(n) });
    const error = await rejection(client.appendToStream(s, [big(600 * 1024), big(600 * 1024)]));
    expect(error).toBeInstanceOf(MaxAppendSizeExceededError);
    expect(error).toMatchObject({ maxAppendSize: 1024 * 1024 });
    expect(await rejection(read(client, s))).toBeInstanceOf(StreamNotFoundError);
  });

  it('a delayed answer makes the client give up at its deadline; the call held before its work does nothing', async () => {
    const server = await env.server();
    const client = await env.client();
    const s = stream();
    await client.appendToStream(s, event());
    server.faults.delay({ method: 'delete', ms: 400, phase: 'before' });
    const error = await rejection(client.deleteStream(s, { deadline: 100 }));
    expect(error).toBeInstanceOf(DeadlineExceededError);
    await server.faults.settled();
    expect(server.faults.fired.delays).toBeGreaterThan(0);
    expect(await read(client, s)).toHaveLength(1);
  });

  it('gossip: a client discovering the cluster finds this one node as the leader', async () => {
    const server = await env.server();
    const discovering = EventStoreDBClient.connectionString(server.url.replace('esdb://', 'esdb+discover://'));
    try {
      const s = stream();
      await discovering.appendToStream(s, event('Discovered'));
      expect((await read(discovering, s))[0]!.event!.type).toBe('Discovered');
    } finally {
      await discovering.dispose();
    }
  });

  it('reads in both directions on $all honour maxCount', async () => {
    const client = await env.client();
    await client.appendToStream(stream(), [event(), event(), event()]);
    expect(await readAll(client, { maxCount: 2, direction: FORWARDS })).toHaveLength(2);
    expect(await readAll(client, { maxCount: 2, direction: BACKWARDS, fromPosition: END })).toHaveLength(2);
  });
});

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
