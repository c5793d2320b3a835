import { describe, expect, test } from 'vitest';
import { MemoryCheckpointStore, MemoryEventStore, createReactor, type Reaction, type ReactionStep } from '@ordo/core';

/** Appends one `Work` event per key, naming its partition. */
async function work(store: MemoryEventStore, items: { key: string; partition: string }[]) {
  for (const { key, partition } of items) {
    await store.appendToStream(`work-${key}`, [{ id: crypto.randomUUID(), type: 'Work', data: { partition } }], { expectedVersion: 'any' });
  }
}

function reaction(react: (key: string, signal: AbortSignal) => Promise<ReactionStep>): Reaction {
  return {
    name: 'test-reactor',
    eventTypes: ['Work'],
    route: (event) => ({ key: event.streamName, partition: (event.data as { partition: string }).partition }),
    react: (key, { signal }) => react(key, signal),
  };
}

describe('reactor', () => {
  test('a hung partition holds up only itself; the checkpoint stays below the unsettled key', async () => {
    const store = new MemoryEventStore();
    const checkpoints = new MemoryCheckpointStore();
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const settled: string[] = [];
    const reactor = createReactor({
      store,
      checkpoints,
      concurrency: 1,
      reaction: reaction(async (key) => {
        if (key === 'work-sms-0') await hung;
        settled.push(key);
        return { settled: true };
      }),
    });
    await reactor.start();
    await work(store, [{ key: 'sms-0', partition: 'sms' }, ...Array.from({ length: 5 }, (_, i) => ({ key: `email-${i}`, partition: 'email' }))]);
    await expect.poll(() => settled.length).toBe(5);
    expect(settled).not.toContain('work-sms-0');
    expect(reactor.status().inFlight).toEqual({ sms: 1 });
    await reactor.runner.waitUntilCaughtUp();
    const firstPosition = (await store.readStream('work-sms-0')).events[0]!.globalPosition;
    expect(await checkpoints.read('test-reactor')).toBeLessThan(firstPosition);
    release();
    await reactor.waitUntilIdle();
    expect(await checkpoints.read('test-reactor')).toBe(await store.headPosition());
    await reactor.stop();
  });

  test('a key waiting for its due time holds no slot; stop() interrupts the wait; a restart derives it again', async () => {
    const store = new MemoryEventStore();
    const checkpoints = new MemoryCheckpointStore();
    const calls: string[] = [];
    const later = (key: string): Promise<ReactionStep> => {
      calls.push(key);
      return Promise.resolve(key === 'work-a' ? { dueAt: new Date(Date.now() + 3_600_000) } : { settled: true });
    };
    const first = createReactor({ store, checkpoints, concurrency: 1, reaction: reaction(later) });
    await first.start();
    await work(store, [{ key: 'a', partition: 'p' }, { key: 'b', partition: 'p' }]);
    await first.waitUntilIdle({ includeDue: false });
    expect(first.status()).toMatchObject({ due: 1, ready: 0, inFlight: {} });
    expect(calls).toEqual(['work-a', 'work-b']); // b got the one slot while a waits
    await first.stop(); // returns although a is due in an hour
    const second = createReactor({ store, checkpoints, reaction: reaction(later) });
    await second.start();
    await second.waitUntilIdle({ includeDue: false });
    // Found again from the checkpoint, which stayed below a; b, read again after it, finds itself settled.
    expect(calls.slice(2).sort()).toEqual(['work-a', 'work-b']);
    expect(second.status()).toMatchObject({ due: 1 });
    await second.stop();
  });

  test('a step that throws is retried until it succeeds, and the status says why meanwhile', async () => {
    const store = new MemoryEventStore();
    let failures = 3;
    const reactor = createReactor({
      store,
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
      reaction: reaction(async () => {
        if (failures-- > 0) throw new Error('store unavailable');
        return { settled: true };
      }),
    });
    await reactor.start();
    await work(store, [{ key: 'x', partition: 'p' }]);
    await reactor.waitUntilIdle();
    expect(failures).toBe(-1);
    expect(reactor.status().lastError).toMatchObject({ key: 'work-x', message: 'store unavailable', failures: 3 });
    await reactor.stop();
  });
});
