/** The contract suite and the connection fault with the successor client, `@kurrent/kurrentdb-client`. */
import { inProcessServerForKurrent, realServerForKurrent } from './kurrent-support.js';
import { randomUUID } from 'node:crypto';
import { UnsupportedOperationError } from '@ordo/core';
import { EventStoreDBEventStore } from '@ordo/eventstoredb';
import { describe, expect, it } from 'vitest';
import {
  describeEventStoreContract,
  multiStreamRaceProperty,
} from '@ordo/core/testing/contract';
import { REAL_SERVER_MULTI_STREAM, REAL_SERVER_URL } from './env.js';

const env = inProcessServerForKurrent();
// A server absorbs a retry with the original write's answer, so racing callers may all hear `false`.
describeEventStoreContract(
  'EventStoreDBEventStore with the KurrentDB client, in-process server',
  async () => new EventStoreDBEventStore(await env.client()),
  { duplicates: 'when-detected' },
);

if (REAL_SERVER_URL) {
  const real = realServerForKurrent(REAL_SERVER_URL);
  describeEventStoreContract(`EventStoreDBEventStore with the KurrentDB client, ${REAL_SERVER_URL}`, async () =>
    new EventStoreDBEventStore(await real.client()),
    { multiStream: REAL_SERVER_MULTI_STREAM, duplicates: 'when-detected' },
  );
}

describe('appendToStreams with the KurrentDB client under racing writers', () => {
  multiStreamRaceProperty(
    'EventStoreDBEventStore (KurrentDB client, in-process server)',
    async (writers) => {
      const client = await env.client();
      const stores = Array.from({ length: writers }, () => new EventStoreDBEventStore(client));
      const reader = new EventStoreDBEventStore(client);
      return { reader, writers: stores, close: async () => void (await Promise.all([reader, ...stores].map((s) => s.close()))) };
    },
    8,
  );
});

const older = inProcessServerForKurrent({ multiStreamAppend: false });
describe('appendToStreams with the KurrentDB client and a server before 25.1', () => {
  it('throws UnsupportedOperationError and writes nothing, also on later calls', async () => {
    const store = new EventStoreDBEventStore(await older.client());
    const call = ['a', 'b'].map((name) => ({
      stream: `k-old-${name}-${randomUUID()}`,
      events: [{ id: randomUUID(), type: 'Refused', data: {} }],
      expectedVersion: 'no_stream' as const,
    }));
    for (let i = 0; i < 2; i++) {
      const error = await store.appendToStreams(call).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedOperationError);
      expect((error as UnsupportedOperationError).reason).toContain('25.1');
    }
    for (const request of call) expect((await store.readStream(request.stream)).version).toBeNull();
  });
});

describe('with the KurrentDB client', () => {
  it('a connection dropped after the append was written: the retry is absorbed', async () => {
    const server = await env.server();
    const store = new EventStoreDBEventStore(await env.client());
    const s = `k-drop-${randomUUID()}`;
    await store.appendToStream(s, [{ id: randomUUID(), type: 'Before', data: {} }], { expectedVersion: 'no_stream' });
    const batch = [0, 1].map((i) => ({ id: randomUUID(), type: 'Faulted', data: { i } }));
    server.faults.dropConnectionAfterCommit();
    const fired = server.faults.fired.dropsAfterCommit;
    const result = await store.appendToStream(s, batch, { expectedVersion: 'any' });
    expect(server.faults.fired.dropsAfterCommit).toBe(fired + 1);
    const read = await store.readStream(s);
    expect(read.events.map((e) => e.id).slice(1)).toEqual(batch.map((e) => e.id));
    expect(result).toEqual({ nextExpectedVersion: 2n, lastGlobalPosition: read.events[2]!.globalPosition, duplicate: false });
  });

  it('a connection dropped after a multi-stream append was written: the retry is absorbed as a duplicate, one copy', async () => {
    const server = await env.server();
    const store = new EventStoreDBEventStore(await env.client());
    const call = ['a', 'b'].map((name) => ({
      stream: `k-multi-drop-${name}-${randomUUID()}`,
      events: [{ id: randomUUID(), type: 'Faulted', data: { name } }],
      expectedVersion: 'no_stream' as const,
    }));
    server.faults.dropConnectionAfterCommit();
    const fired = server.faults.fired.dropsAfterCommit;
    const result = await store.appendToStreams(call);
    expect(server.faults.fired.dropsAfterCommit).toBe(fired + 1);
    expect(result.duplicate).toBe(true);
    for (const [i, request] of call.entries()) {
      const read = await store.readStream(request.stream);
      expect(read.events.map((e) => e.id)).toEqual(request.events.map((e) => e.id));
      expect(result.streams[i]).toEqual({ stream: request.stream, nextExpectedVersion: 0n, lastGlobalPosition: read.events[0]!.globalPosition });
    }
  });

  it('a subscription dropped mid-catch-up resumes: nothing lost, nothing twice', async () => {
    const server = await env.server();
    const store = new EventStoreDBEventStore(await env.client());
    const prefix = `k-sub-${randomUUID()}-`;
    const start = await store.headPosition();
    const written = Array.from({ length: 60 }, (_, i) => ({ id: randomUUID(), type: 'Faulted', data: { i } }));
    await store.appendToStream(`${prefix}s`, written, { expectedVersion: 'no_stream' });
    server.faults.dropSubscriptionAfter(20);
    const received: string[] = [];
    let caughtUp = false;
    const subscription = store.subscribeToAll({
      after: start,
      filter: { streamPrefixes: [prefix] },
      onEvent: (e) => void received.push(e.id),
      onCaughtUp: () => (caughtUp = true),
    });
    const deadline = Date.now() + 10_000;
    while (!caughtUp && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
    await subscription.stop();
    expect(received).toEqual(written.map((e) => e.id));
  });
});
