/**
 * Projection runners with a lease, on the in-memory store: copies of one projection share a
 * checkpoint store, one works and the others stand by; stopping, losing the store or stopping on
 * a poison event hands the work over, and no event is missed or handled twice on the way.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createProjectionRunner,
  health,
  MemoryCheckpointStore,
  MemoryEventStore,
  type CheckpointStore,
  type EventStore,
  type ProjectionRunner,
  type RecordedEvent,
} from '@ordo/core';
import { eventually } from './helpers.js';
import { leaseStoreSuite } from './lease-properties.js';

const TTL = 300; // attempts every ~100 ms
const FAST = { baseDelayMs: 1, maxDelayMs: 20 };

const runners: ProjectionRunner[] = [];
afterEach(async () => {
  for (const runner of runners.splice(0)) await runner.stop();
});

async function appendTicks(store: EventStore, count: number): Promise<RecordedEvent[]> {
  const appended: RecordedEvent[] = [];
  for (let i = 0; i < count; i++) {
    await store.appendToStream(`tick-${randomUUID()}`, [{ id: randomUUID(), type: 'Tick', data: { i } }], { expectedVersion: 'no_stream' });
  }
  for await (const event of store.readAll()) appended.push(event);
  return appended.slice(-count);
}

/** Every event handled, by which copy, in order (not idempotent: a repeat shows). */
function handledLog() {
  const handled: { id: string; position: bigint; by: string }[] = [];
  return {
    handled,
    by: (copy: string) => handled.filter((h) => h.by === copy).map((h) => h.id),
    /** A copy of the projection that records what it handles, and fails on events `fails` names. */
    projection: (copy: string, fails?: (event: RecordedEvent) => boolean) => ({
      name: 'ticks',
      handle(event: RecordedEvent) {
        if (fails?.(event)) throw new Error(`copy ${copy} cannot handle ${event.globalPosition}`);
        handled.push({ id: event.id, position: event.globalPosition, by: copy });
      },
    }),
  };
}

/** A checkpoint store one copy reaches through: while `down`, every call fails as a lost connection does. */
function reachable(inner: MemoryCheckpointStore) {
  const link = { down: false };
  const check = () => {
    if (link.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  };
  const checkpoints: CheckpointStore = {
    read: async (name) => (check(), inner.read(name)),
    store: async (name, position, expected) => (check(), inner.store(name, position, expected)),
    acquireLease: async (name, owner, ttlMs) => (check(), inner.acquireLease(name, owner, ttlMs)),
    releaseLease: async (name, owner) => (check(), inner.releaseLease(name, owner)),
  };
  return { link, checkpoints };
}

function start(runner: ProjectionRunner) {
  runners.push(runner);
  return runner.start();
}

const ids = (events: readonly RecordedEvent[]) => events.map((e) => e.id);
const working = (runner: ProjectionRunner) => ['running', 'catching-up', 'retrying'].includes(runner.status().state);

describe('MemoryCheckpointStore: the shared lease suite', () => {
  leaseStoreSuite(async () => new MemoryCheckpointStore());
});

describe('projection runners with a lease (memory)', () => {
  it('only the copy holding the lease handles events; stopping it hands over, from the checkpoint, nothing missed or twice', async () => {
    const store = new MemoryEventStore();
    const checkpoints = new MemoryCheckpointStore();
    const log = handledLog();
    const first = await appendTicks(store, 25);
    const a = createProjectionRunner({ store, checkpoints, projection: log.projection('a'), checkpointEvery: 4, lease: { ttlMs: TTL, owner: 'a' } });
    const b = createProjectionRunner({ store, checkpoints, projection: log.projection('b'), checkpointEvery: 4, lease: { ttlMs: TTL, owner: 'b' } });
    await start(a);
    await start(b);
    expect(b.status().state).toBe('standby');
    const second = await appendTicks(store, 25);
    const last = second[second.length - 1]!.globalPosition;
    await a.waitFor(last, { timeoutMs: 10_000 });
    await b.waitFor(last, { timeoutMs: 10_000 }); // standing by: resolved by the checkpoint the other copy stored
    expect(b.status().state).toBe('standby');
    expect(b.position).toBe(last);
    expect(log.by('b')).toEqual([]);
    expect(log.by('a')).toEqual(ids([...first, ...second]));
    expect(health([a, b]).status).toBe('ready');

    await a.stop();
    await eventually(() => working(b), 'the standby to take over');
    const third = await appendTicks(store, 25);
    await b.waitFor(third[third.length - 1]!.globalPosition, { timeoutMs: 10_000 });
    expect(log.by('b')).toEqual(ids(third));
    expect(log.handled.map((h) => h.id)).toEqual(ids([...first, ...second, ...third]));
    expect(await checkpoints.read('ticks')).toBe(third[third.length - 1]!.globalPosition);
  });

  it('a copy standing by keeps standing by while the holder renews its lease, then takes over after the holder is gone', async () => {
    const store = new MemoryEventStore();
    const checkpoints = new MemoryCheckpointStore();
    const log = handledLog();
    const copies = ['a', 'b', 'c'].map((copy) =>
      createProjectionRunner({ store, checkpoints, projection: log.projection(copy), lease: { ttlMs: TTL, owner: copy } }),
    );
    for (const copy of copies) await start(copy);
    expect(copies.map((c) => c.status().state)).toEqual(['running', 'standby', 'standby']);
    // Ten renewal periods and more with events flowing: the holder never changes.
    for (let round = 0; round < 10; round++) {
      const events = await appendTicks(store, 3);
      await copies[0]!.waitFor(events[2]!.globalPosition, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, TTL / 3));
    }
    expect(copies.slice(1).map((c) => c.status().state)).toEqual(['standby', 'standby']);
    expect(new Set(log.handled.map((h) => h.by))).toEqual(new Set(['a']));

    await copies[0]!.stop();
    await eventually(() => copies.slice(1).some(working), 'a standby to take over');
    const more = await appendTicks(store, 10);
    const next = copies.slice(1).find(working)!;
    await next.waitFor(more[9]!.globalPosition, { timeoutMs: 10_000 });
    expect(copies.slice(1).filter(working)).toHaveLength(1);
    expect(new Set(log.handled.map((h) => h.id)).size).toBe(log.handled.length);
    expect(log.handled).toHaveLength(40);
  });

  it('a holder that loses the store for longer than the ttl stops handling and stands by; another copy takes over', async () => {
    const store = new MemoryEventStore();
    const inner = new MemoryCheckpointStore();
    const log = handledLog();
    const toA = reachable(inner);
    const a = createProjectionRunner({ store, checkpoints: toA.checkpoints, projection: log.projection('a'), backoff: FAST, lease: { ttlMs: TTL, owner: 'a' } });
    const b = createProjectionRunner({ store, checkpoints: inner, projection: log.projection('b'), backoff: FAST, lease: { ttlMs: TTL, owner: 'b' } });
    await start(a);
    await start(b);
    const before = await appendTicks(store, 10);
    await a.waitFor(before[9]!.globalPosition, { timeoutMs: 10_000 });
    await b.waitFor(before[9]!.globalPosition, { timeoutMs: 10_000 }); // the checkpoint is stored

    toA.link.down = true;
    await eventually(() => a.status().state === 'standby', 'the cut-off holder to stand by');
    expect(a.status().consecutiveFailures).toBeGreaterThan(0);
    expect(health([a]).status).not.toBe('ready');
    await eventually(() => working(b), 'the other copy to take over');
    const after = await appendTicks(store, 10);
    await b.waitFor(after[9]!.globalPosition, { timeoutMs: 10_000 });
    expect(log.by('a')).toEqual(ids(before));
    expect(log.by('b')).toEqual(ids(after));

    // Back in touch, it finds the lease held and keeps standing by, healthy again.
    toA.link.down = false;
    await eventually(() => a.status().consecutiveFailures === 0, 'the lease attempts to get through again');
    expect(a.status().state).toBe('standby');
    const last = await appendTicks(store, 5);
    await b.waitFor(last[4]!.globalPosition, { timeoutMs: 10_000 });
    await a.waitFor(last[4]!.globalPosition, { timeoutMs: 10_000 });
    expect(log.by('a')).toEqual(ids(before));
    expect(log.handled.map((h) => h.id)).toEqual(ids([...before, ...after, ...last]));
  });

  it('stop() of a copy cut off from the store ends its waits and gives up', async () => {
    const store = new MemoryEventStore();
    const toA = reachable(new MemoryCheckpointStore());
    const a = createProjectionRunner({ store, checkpoints: toA.checkpoints, projection: handledLog().projection('a'), lease: { ttlMs: TTL } });
    toA.link.down = true;
    await a.start(); // a lost connection is retried, not thrown
    await eventually(() => a.status().consecutiveFailures > 1, 'a few failed attempts');
    expect(a.status().state).toBe('standby');
    await a.stop();
    expect(a.status().state).toBe('stopped');
  });

  it('a copy that stops on a poison event gives the lease up: a copy that can handle the event takes over', async () => {
    const store = new MemoryEventStore();
    const checkpoints = new MemoryCheckpointStore();
    const log = handledLog();
    const events = await appendTicks(store, 12);
    const poison = events[6]!;
    const a = createProjectionRunner({
      store,
      checkpoints,
      projection: log.projection('a', (e) => e.id === poison.id),
      checkpointEvery: 1,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      lease: { ttlMs: TTL, owner: 'a' },
    });
    const b = createProjectionRunner({ store, checkpoints, projection: log.projection('b'), lease: { ttlMs: TTL, owner: 'b' } });
    await start(a);
    await start(b);
    await expect(a.waitFor(poison.globalPosition, { timeoutMs: 10_000 })).rejects.toThrow(/cannot handle/);
    expect(a.status().state).toBe('stopped-on-poison');
    await b.waitFor(events[11]!.globalPosition, { timeoutMs: 10_000 });
    expect(working(b)).toBe(true);
    expect(log.by('a')).toEqual(ids(events.slice(0, 6)));
    expect(log.by('b')).toEqual(ids(events.slice(6)));
  });
});
