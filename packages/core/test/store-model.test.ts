/**
 * The exported model-based store test: the reference store agrees with itself, and stores that
 * break a promise (a retry written twice, a `no_stream` check skipped) are caught.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryEventStore, type EventStore } from '@ordo/core';
import { storeModelProperty } from '@ordo/core/testing/race';

function broken(change: (store: MemoryEventStore) => EventStore['appendToStream']): () => EventStore {
  return () => {
    const store = new MemoryEventStore();
    const append = change(store);
    return new Proxy(store, {
      get: (target, key) => (key === 'appendToStream' ? append : (Reflect.get(target, key) as (...a: unknown[]) => unknown)?.bind?.(target) ?? Reflect.get(target, key)),
    });
  };
}

describe('storeModelProperty', () => {
  it('the memory store agrees with the reference over 200 random runs', async () => {
    await fc.assert(storeModelProperty({ store: () => new MemoryEventStore() }), { numRuns: 200 });
  });

  it('catches a store that writes a retried append again', async () => {
    const details = await fc.check(
      storeModelProperty({
        store: broken((store) => (stream, events, options) => store.appendToStream(stream, events.map((e) => ({ ...e, id: crypto.randomUUID() })), options)),
      }),
      { numRuns: 500 },
    );
    expect(details.failed).toBe(true);
    expect(String(details.errorInstance)).toMatch(/retry append|reference store answered/);
  });

  it('catches a store that does not check no_stream', async () => {
    const details = await fc.check(
      storeModelProperty({
        store: broken((store) => (stream, events, options) =>
          store.appendToStream(stream, events, { expectedVersion: options.expectedVersion === 'no_stream' ? 'any' : options.expectedVersion }),
        ),
      }),
      { numRuns: 500 },
    );
    expect(details.failed).toBe(true);
    expect(String(details.errorInstance)).toMatch(/expecting no_stream/);
  });
});
