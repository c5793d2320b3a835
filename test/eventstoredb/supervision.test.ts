/**
 * The projection runner on EventStoreDB (the in-process server) when its subscription and its
 * connections drop: it resumes by itself, hands every event over once, and blames no event.
 */
import { randomUUID } from 'node:crypto';
import { EventStoreDBClient } from '@eventstore/db-client';
import { createProjectionRunner, type NewEvent, type RecordedEvent } from '@ordo/core';
import { EventStoreDBCheckpointStore, EventStoreDBEventStore } from '@ordo/eventstoredb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './server/index.js';
import { disposeOf } from './support.js';
import { waitUntil } from '../support/wait.js';

const events = (count: number): NewEvent[] => Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type: 'Tick', data: { i } }));
const ids = (list: readonly { id: string }[]) => list.map((e) => e.id);

describe('projection runner on EventStoreDB under dropped subscriptions and connections', () => {
  let server: TestServer;
  let client: EventStoreDBClient;
  beforeAll(async () => {
    server = await startTestServer();
    client = EventStoreDBClient.connectionString(server.url);
  });
  afterAll(async () => {
    await disposeOf(client);
    await server.stop();
  });

  it('resumes by itself, each event handed over once, nothing blamed', async () => {
    const store = new EventStoreDBEventStore(client);
    const checkpoints = new EventStoreDBCheckpointStore(client);
    const prefix = `sup-${randomUUID()}-`;
    const name = `sup-${randomUUID()}`;
    await checkpoints.store(name, await store.headPosition(), null);
    const written: NewEvent[] = [];
    for (let i = 0; i < 5; i++) {
      const batch = events(30);
      written.push(...batch);
      await store.appendToStream(`${prefix}${i % 2}`, batch, { expectedVersion: 'any' });
    }
    const handled: RecordedEvent[] = [];
    const runner = createProjectionRunner({
      store,
      checkpoints,
      checkpointEvery: 20,
      backoff: { baseDelayMs: 20, maxDelayMs: 500 },
      projection: { name, streamPrefixes: [prefix], handle: (event) => void handled.push(event) },
    });
    server.faults.dropSubscriptionAfter(45);
    await runner.start();
    await runner.waitUntilCaughtUp({ timeoutMs: 30_000 });

    // Live: every connection cut, twice, with appends in between.
    for (let round = 0; round < 2; round++) {
      server.dropConnections();
      const late = events(10);
      written.push(...late);
      await store.appendToStream(`${prefix}late-${round}`, late, { expectedVersion: 'no_stream' });
    }
    await waitUntil(() => handled.length >= written.length, 'every event handled', 30_000);
    await runner.waitUntilCaughtUp({ timeoutMs: 30_000 });
    await runner.stop();

    expect(ids(handled)).toEqual(ids(written));
    expect(runner.failure).toBeUndefined();
    expect(runner.position).toBeGreaterThanOrEqual(handled.at(-1)!.globalPosition);
    expect(await checkpoints.read(name)).toBe(runner.position);
    console.log(`last error the runner waited out: ${runner.status().lastError?.message ?? 'none'}`);
  });
});
