/**
 * The connection drops after the append committed, before the reply arrives: the caller must still
 * get the append's result, and the batch must be stored once. A proxy between the store and the
 * server cuts the connection right after the server said the transaction is done.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '@ordo/postgres';
import { createTestStore, testPool, type TestPostgresEventStore } from '../support/postgres.js';

/** ReadyForQuery, idle: the server has committed and waits for the next statement. */
const READY_IDLE = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);

interface CuttingProxy {
  port: number;
  /** Cut the next connection that reports "committed and idle", instead of passing that on. */
  armCut(): void;
  cuts: number;
  close(): Promise<void>;
}

async function cuttingProxy(target: URL): Promise<CuttingProxy> {
  let armed = false;
  const sockets = new Set<net.Socket>();
  const proxy: CuttingProxy = {
    port: 0,
    cuts: 0,
    armCut: () => {
      armed = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (armed && chunk.includes(READY_IDLE)) {
        armed = false;
        proxy.cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as net.AddressInfo).port;
  return proxy;
}

describe('a connection lost after the append committed', () => {
  let store: TestPostgresEventStore;
  let proxy: CuttingProxy;

  beforeEach(async () => {
    store = await createTestStore();
    const url = new URL((store.pool.options as { connectionString: string }).connectionString);
    proxy = await cuttingProxy(url);
  });

  afterEach(async () => {
    await proxy.close();
    await store.close();
  });

  it.each(['no_stream', 'any'] as const)(
    'with %s: the store appends again, which is absorbed, and the caller gets the original result',
    async (expectedVersion) => {
      const url = new URL((store.pool.options as { connectionString: string }).connectionString);
      url.port = String(proxy.port);
      const pool = testPool({ connectionString: url.toString(), max: 1 });
      try {
        const viaProxy = new PostgresEventStore({ pool, schema: store.schema });
        await viaProxy.headPosition(); // the one connection is open and idle
        const batch = [
          { id: randomUUID(), type: 'Placed', data: { n: 1 } },
          { id: randomUUID(), type: 'Confirmed', data: { n: 2 } },
        ];

        proxy.armCut();
        const result = await viaProxy.appendToStream('order-1', batch, { expectedVersion });

        expect(proxy.cuts).toBe(1);
        const read = await store.readStream('order-1');
        expect(read.events.map((e) => e.id)).toEqual(batch.map((e) => e.id));
        expect(result).toEqual({ nextExpectedVersion: 1n, lastGlobalPosition: read.events[1]!.globalPosition, duplicate: false });
        await viaProxy.close();
      } finally {
        await pool.end();
      }
    },
  );

  it('an append to several streams: the store sends it again, which is absorbed as a duplicate, and one copy is stored', async () => {
    const url = new URL((store.pool.options as { connectionString: string }).connectionString);
    url.port = String(proxy.port);
    const pool = testPool({ connectionString: url.toString(), max: 1 });
    try {
      const viaProxy = new PostgresEventStore({ pool, schema: store.schema });
      await viaProxy.headPosition();
      const call = ['order-1', 'numbers-1'].map((stream) => ({
        stream,
        events: [{ id: randomUUID(), type: 'Placed', data: { stream } }],
        expectedVersion: 'no_stream' as const,
      }));

      proxy.armCut();
      const result = await viaProxy.appendToStreams(call);

      expect(proxy.cuts).toBe(1);
      expect(result.duplicate).toBe(true);
      for (const [i, request] of call.entries()) {
        const read = await store.readStream(request.stream);
        expect(read.events.map((e) => e.id)).toEqual(request.events.map((e) => e.id));
        expect(result.streams[i]).toEqual({ stream: request.stream, nextExpectedVersion: 0n, lastGlobalPosition: read.events[0]!.globalPosition });
      }
      await viaProxy.close();
    } finally {
      await pool.end();
    }
  });
});
