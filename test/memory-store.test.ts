import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MemoryEventStore,
  START,
  ValidationError,
  type NewEvent,
  type RecordedEvent,
} from '@ordo/core';
import {
  describeEventStoreContract,
  multiStreamRaceProperty,
} from '@ordo/core/testing/contract';

describeEventStoreContract('MemoryEventStore', async () => new MemoryEventStore());

const event = (data: unknown = {}): NewEvent => ({ id: randomUUID(), type: 'Tested', data });

async function readAll(store: MemoryEventStore, after?: bigint): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll(after === undefined ? {} : { after })) out.push(e);
  return out;
}

describe('MemoryEventStore', () => {
  it('an empty store has head position START and an empty log', async () => {
    const store = new MemoryEventStore();
    expect(await store.headPosition()).toBe(START);
    expect(await readAll(store)).toEqual([]);
  });

  it('numbers the global log densely from 1, and the head is the last position', async () => {
    const store = new MemoryEventStore();
    await store.appendToStream('a', [event(), event()], { expectedVersion: 'no_stream' });
    await store.appendToStream('b', [event()], { expectedVersion: 'no_stream' });
    const result = await store.appendToStream('a', [event()], { expectedVersion: 1n });
    expect((await readAll(store)).map((e) => e.globalPosition)).toEqual([1n, 2n, 3n, 4n]);
    expect(result.lastGlobalPosition).toBe(4n);
    expect(await store.headPosition()).toBe(4n);
    expect((await readAll(store, 2n)).map((e) => e.globalPosition)).toEqual([3n, 4n]);
  });

  it('stamps recordedAt from the given clock, one instant per append', async () => {
    let now = new Date('2026-01-02T03:04:05.000Z');
    const store = new MemoryEventStore({ now: () => now });
    await store.appendToStream('s', [event(), event()], { expectedVersion: 'no_stream' });
    now = new Date('2026-01-02T03:04:06.000Z');
    await store.appendToStream('s', [event()], { expectedVersion: 1n });
    const read = await store.readStream('s');
    expect(read.events.map((e) => e.recordedAt.toISOString())).toEqual([
      '2026-01-02T03:04:05.000Z',
      '2026-01-02T03:04:05.000Z',
      '2026-01-02T03:04:06.000Z',
    ]);
    // A reader changing its Date does not change the store's.
    read.events[0]!.recordedAt.setTime(0);
    expect((await store.readStream('s')).events[0]!.recordedAt.toISOString()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('enforces configured limits, naming the field', async () => {
    const store = new MemoryEventStore({ limits: { maxEventBytes: 100, maxBatchSize: 2 } });
    const big = store.appendToStream('s', [event({ text: 'x'.repeat(100) })], { expectedVersion: 'any' });
    await expect(big).rejects.toBeInstanceOf(ValidationError);
    await expect(big).rejects.toMatchObject({ issues: [{ path: 'events.0' }] });
    const many = store.appendToStream('s', [event(), event(), event()], { expectedVersion: 'any' });
    await expect(many).rejects.toMatchObject({ issues: [{ path: 'events' }] });
    await store.appendToStream('s', [event({ text: 'x'.repeat(50) }), event()], { expectedVersion: 'no_stream' });
    expect(await store.headPosition()).toBe(2n);
  });

  it('refuses to work once closed', async () => {
    const store = new MemoryEventStore();
    await store.appendToStream('s', [event()], { expectedVersion: 'no_stream' });
    await store.close();
    await expect(store.appendToStream('s', [event()], { expectedVersion: 'any' })).rejects.toThrow(/closed/);
    await expect(store.readStream('s')).rejects.toThrow(/closed/);
    expect(() => store.subscribeToAll({ onEvent() {} })).toThrow(/closed/);
  });
});

describe('MemoryEventStore: appendToStreams under racing writers', () => {
  multiStreamRaceProperty(
    'MemoryEventStore',
    async () => {
      const store = new MemoryEventStore();
      return { reader: store, writers: [store], close: () => store.close() };
    },
    40,
  );
});
