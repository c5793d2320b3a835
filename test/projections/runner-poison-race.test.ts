import { describe, expect, it } from 'vitest';
import {
  MemoryCheckpointStore,
  MemoryEventStore,
  ProjectionFailedError,
  createProjectionRunner,
  type EventStore,
  type SubscribeOptions,
} from '@ordo/core';
import { randomUUID } from 'node:crypto';

/**
 * A store whose subscriptions report "caught up" twice in a row, as a polling store does when its
 * poll fires while the previous report is still being handled.
 */
function doubleCaughtUp(store: MemoryEventStore): EventStore {
  return Object.assign(Object.create(store) as MemoryEventStore, {
    subscribeToAll(options: SubscribeOptions) {
      return store.subscribeToAll({
        ...options,
        onCaughtUp(position: bigint) {
          options.onCaughtUp?.(position);
          options.onCaughtUp?.(position);
        },
      });
    },
  });
}

describe('projection runner stopped on a poison event', () => {
  it('does not let a caught-up report queued before the stop move the checkpoint past the poison event', async () => {
    const memory = new MemoryEventStore();
    const good = await memory.appendToStream('tick-a', [{ id: randomUUID(), type: 'Tick', data: { ok: true } }], { expectedVersion: 'no_stream' });
    const poison = await memory.appendToStream('tick-b', [{ id: randomUUID(), type: 'Tick', data: { ok: false } }], { expectedVersion: 'no_stream' });
    const checkpoints = new MemoryCheckpointStore();
    const runner = createProjectionRunner({
      store: doubleCaughtUp(memory),
      checkpoints,
      retry: { maxAttempts: 1 },
      projection: {
        name: 'poisoned',
        handle(event) {
          if (!(event.data as { ok: boolean }).ok) throw new Error('cannot handle this one');
        },
      },
    });
    await runner.start();
    await expect(runner.waitUntilCaughtUp({ timeoutMs: 5000 })).rejects.toBeInstanceOf(ProjectionFailedError);
    await new Promise((resolve) => setTimeout(resolve, 20)); // let anything still queued run
    expect(runner.status().state).toBe('stopped-on-poison');
    expect(runner.failure?.event.position).toBe(poison.lastGlobalPosition);
    expect(await checkpoints.read('poisoned')).toBe(good.lastGlobalPosition);
    expect(runner.position).toBe(good.lastGlobalPosition);
  });
});
