import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MemoryCheckpointStore,
  MemoryEventStore,
  createProjectionRunner,
  ordoHealth,
  rebuildCheckpointName,
  rebuildProjection,
  type CheckpointStore,
  type Projection,
  type RecordedEvent,
} from '@ordo/core';

async function seed(store: MemoryEventStore, count: number, type = 'Counted'): Promise<void> {
  const events = Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type: i % 3 === 2 ? 'Other' : type, data: { i } }));
  await store.appendToStream(`thing-${randomUUID()}`, events, { expectedVersion: 'any' });
}

/** A projection whose effect is idempotent: a set of the events it saw. */
function seenProjection(name = 'seen'): { projection: Projection; seen: Set<string> } {
  const seen = new Set<string>();
  return { seen, projection: { name, eventTypes: ['Counted'], handle: (e: RecordedEvent) => void seen.add(e.id) } };
}

/** Memory checkpoints with a transaction (no real isolation: the work runs after the compare-and-set). */
class TransactionalCheckpoints extends MemoryCheckpointStore implements CheckpointStore<undefined> {
  async transaction<T>(name: string, position: bigint, expected: bigint | null, work: (tx: undefined) => Promise<T>): Promise<T> {
    await this.store(name, position, expected);
    return work(undefined);
  }
}

describe('rebuildProjection', () => {
  it('replays from the start; an abort keeps the shadow checkpoint, and the next run resumes there', async () => {
    const store = new MemoryEventStore();
    await seed(store, 30);
    const checkpoints = new MemoryCheckpointStore();
    const { projection, seen } = seenProjection();
    const abort = new AbortController();
    const reason = new Error('operator pressed Ctrl-C');
    const first = rebuildProjection({ store, checkpoints, projection, batchSize: 4 }, { signal: abort.signal, onProgress: () => abort.abort(reason) });
    await expect(first).rejects.toBe(reason);
    const paused = await checkpoints.read(rebuildCheckpointName('seen'));
    expect(paused).not.toBeNull();
    expect(paused!).toBeLessThan(30n);
    expect(seen.size).toBe(4);

    const progress: bigint[] = [];
    const second = await rebuildProjection({ store, checkpoints, projection, batchSize: 4 }, { onProgress: (p) => progress.push(p.position) });
    expect(second).toMatchObject({ from: paused, position: 30n, swapped: false, handled: 16 });
    expect(progress.at(-1)).toBe(30n);
    expect(seen.size).toBe(20); // every Counted event, each once
    expect(await checkpoints.read(rebuildCheckpointName('seen'))).toBeNull();
    expect(await checkpoints.read('seen')).toBeNull(); // replay mode leaves the live checkpoint alone
  });

  it('a dry run counts what it would handle and writes nothing', async () => {
    const store = new MemoryEventStore();
    await seed(store, 9);
    const checkpoints = new MemoryCheckpointStore();
    const { projection, seen } = seenProjection();
    const result = await rebuildProjection({ store, checkpoints, projection }, { dryRun: true });
    expect(result).toMatchObject({ dryRun: true, handled: 6, position: 9n });
    expect(seen.size).toBe(0);
    expect(await checkpoints.read(rebuildCheckpointName('seen'))).toBeNull();
  });

  it('swaps under the live checkpoint: the live runner is fenced and carries on from the rebuild position', async () => {
    const store = new MemoryEventStore();
    await seed(store, 12);
    const checkpoints = new TransactionalCheckpoints();
    const live = seenProjection('table');
    const runner = createProjectionRunner({ store, checkpoints, projection: { ...live.projection, transactional: false } });
    await runner.start();
    await runner.waitUntilCaughtUp();
    const shadow = seenProjection('table');
    const swaps: number[] = [];
    let prepared = 0;
    const result = await rebuildProjection({
      store,
      checkpoints,
      projection: shadow.projection,
      prepare: async () => void prepared++,
      swap: async () => void swaps.push(shadow.seen.size),
    });
    expect(result).toMatchObject({ swapped: true, position: 12n });
    expect(prepared).toBe(1);
    expect(swaps).toEqual([8]);
    expect(await checkpoints.read('table')).toBe(12n);
    expect(await checkpoints.read(rebuildCheckpointName('table'))).toBeNull();
    await seed(store, 3);
    await runner.waitUntilCaughtUp();
    expect(live.seen.size).toBe(10);
    await runner.stop();
  });

  it('refuses a checkpoint store that cannot remove a checkpoint', async () => {
    const store = new MemoryEventStore();
    const checkpoints: CheckpointStore = { read: async () => null, store: async () => undefined };
    await expect(rebuildProjection({ store, checkpoints, projection: seenProjection().projection })).rejects.toThrow(/remove/);
  });
});

describe('AbortSignal on waits', () => {
  it('waitFor and waitUntilCaughtUp reject with the signal reason', async () => {
    const store = new MemoryEventStore();
    const runner = createProjectionRunner({ store, checkpoints: new MemoryCheckpointStore(), projection: seenProjection().projection });
    const abort = new AbortController();
    const waiting = runner.waitFor(5n, { signal: abort.signal });
    abort.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    await expect(runner.waitUntilCaughtUp({ signal: abort.signal })).rejects.toThrow('shutting down');
  });
});

describe('ordoHealth', () => {
  it('is ready when runners run and the store answers; failing when the store does not', async () => {
    const store = new MemoryEventStore();
    const runner = createProjectionRunner({ store, checkpoints: new MemoryCheckpointStore(), projection: seenProjection().projection });
    await runner.start();
    while (runner.status().state !== 'running') await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await ordoHealth({ runners: [runner], store })).toMatchObject({ status: 'ready', reasons: [], store: { ok: true, head: 0n } });
    const silent = { headPosition: () => new Promise<bigint>(() => undefined) };
    const down = await ordoHealth({ runners: [runner], store: silent, storeTimeoutMs: 20 });
    expect(down.status).toBe('failing');
    expect(down.reasons).toEqual(['store: no answer within 20 ms']);
    await runner.stop();
    expect((await ordoHealth({ runners: [runner] })).reasons).toEqual(['seen: stopped']);
  });
});
