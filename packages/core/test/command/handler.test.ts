import { describe, expect, it } from 'vitest';
import {
  createCommandHandler,
  MemoryEventStore,
  WrongExpectedVersionError,
  type AppendOptions,
  type EventStore,
  type NewEvent,
} from '@ordo/core';
import { counterDecider, LimitError, type CounterCommand } from './counter.js';

const FAST = { baseDelayMs: 0, maxDelayMs: 0 };
const add = (by: number): CounterCommand => ({ type: 'Add', by });

/** A store that lets a test act just before an append reaches the memory store. */
function interceptedStore(memory: MemoryEventStore, before: (stream: string, events: readonly NewEvent[]) => Promise<void>) {
  const appends: (readonly NewEvent[])[] = [];
  const reads: (bigint | undefined)[] = [];
  const store: EventStore = Object.assign(Object.create(memory) as EventStore, {
    async appendToStream(stream: string, events: readonly NewEvent[], options: AppendOptions) {
      appends.push(events);
      await before(stream, events);
      return memory.appendToStream(stream, events, options);
    },
    async readStream(...args: Parameters<EventStore['readStream']>) {
      reads.push(args[1]?.fromVersion);
      return memory.readStream(...args);
    },
  });
  return { store, appends, reads };
}

describe('command handler', () => {
  it('appends the decided events with ids derived from the command id, and reports version and position', async () => {
    const store = new MemoryEventStore();
    const handler = createCommandHandler({ store, decider: counterDecider() });
    const first = await handler.handle('counter-1', add(2), { commandId: 'c1', actor: 'ann' });
    expect(first).toMatchObject({ stream: 'counter-1', state: 2, version: 0n, noop: false, duplicate: false, attempts: 1 });
    expect(first.position).toBe(await store.headPosition());
    const [event] = (await store.readStream('counter-1')).events;
    expect(event!.metadata).toMatchObject({ commandId: 'c1', actor: 'ann' });
    const again = await createCommandHandler({ store, decider: counterDecider() }).handle('counter-2', add(2), { commandId: 'c1' });
    expect((await store.readStream('counter-2')).events[0]!.id).not.toBe(event!.id);
    expect(again.version).toBe(0n);
  });

  it('answers a satisfied command with noop and writes nothing', async () => {
    const store = new MemoryEventStore();
    const handler = createCommandHandler({ store, decider: counterDecider() });
    await handler.handle('counter-1', add(3), { commandId: 'c1' });
    const head = await store.headPosition();
    const result = await handler.handle('counter-1', { type: 'Reach', value: 3 }, { commandId: 'c2' });
    expect(result).toMatchObject({ events: [], position: null, state: 3, version: 0n, noop: true, duplicate: false });
    expect(await store.headPosition()).toBe(head);
  });

  it('answers a repeated command id with the first result, even from another handler', async () => {
    const store = new MemoryEventStore();
    const first = await createCommandHandler({ store, decider: counterDecider() }).handle('counter-1', add(3), { commandId: 'c1' });
    const other = createCommandHandler({ store, decider: counterDecider() });
    await other.handle('counter-1', add(1), { commandId: 'c2' });
    const repeated = await other.handle('counter-1', add(3), { commandId: 'c1' });
    expect(repeated).toMatchObject({ events: first.events, position: first.position, state: 4, duplicate: true, noop: false });
    expect((await store.readStream('counter-1')).events).toHaveLength(2);
  });

  it('queues commands for a busy stream, decides them in turn and appends them as one batch', async () => {
    const memory = new MemoryEventStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { store, appends } = interceptedStore(memory, async () => {
      if (appends.length === 1) await gate;
    });
    const handler = createCommandHandler({ store, decider: counterDecider(10) });
    const first = handler.handle('counter-1', add(1), { commandId: 'c1' });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const queued = [
      handler.handle('counter-1', add(2), { commandId: 'c2' }),
      handler.handle('counter-1', add(100), { commandId: 'c3' }),
      handler.handle('counter-1', add(2), { commandId: 'c2' }),
      handler.handle('counter-1', { type: 'Reach', value: 3 }, { commandId: 'c4' }),
      handler.handle('counter-1', add(4), { commandId: 'c5' }),
    ];
    release();
    const settled = await Promise.allSettled([first, ...queued]);
    expect(appends.map((batch) => batch.length)).toEqual([1, 2]);
    const values = settled.map((s) => (s.status === 'fulfilled' ? s.value : s.reason));
    expect(values[0]).toMatchObject({ state: 1, version: 0n });
    expect(values[1]).toMatchObject({ state: 3, version: 1n, duplicate: false, attempts: 1 });
    expect(values[2]).toBeInstanceOf(LimitError);
    expect(values[3]).toMatchObject({ state: 3, duplicate: true, events: [{ type: 'Added', data: { by: 2 } }] });
    expect(values[4]).toMatchObject({ noop: true, state: 3, version: 2n });
    expect(values[5]).toMatchObject({ state: 7, version: 2n });
    expect((values[1] as { position: bigint }).position).toBe((values[5] as { position: bigint }).position);
  });

  it('after a lost race reads only the events it missed and decides again', async () => {
    const memory = new MemoryEventStore();
    const rival = createCommandHandler({ store: memory, decider: counterDecider(10) });
    await rival.handle('counter-1', add(1), { commandId: 'c0' });
    let raced = false;
    const { store, reads } = interceptedStore(memory, async (stream) => {
      if (!raced) {
        raced = true;
        await rival.handle(stream, add(7), { commandId: 'rival' });
      }
    });
    const handler = createCommandHandler({ store, decider: counterDecider(10), retry: FAST });
    const result = await handler.handle('counter-1', { type: 'Reach', value: 9 }, { commandId: 'c1' });
    expect(result).toMatchObject({ state: 9, attempts: 2, events: [{ type: 'Added', data: { by: 1 } }] });
    expect(reads).toEqual([0n, 1n]);
  });

  it('gives up after maxAttempts with the conflict and the number of attempts', async () => {
    const memory = new MemoryEventStore();
    const { store, appends } = interceptedStore(memory, async (stream) => {
      throw new WrongExpectedVersionError(stream, 'no_stream', 0n);
    });
    const delays: number[] = [];
    const handler = createCommandHandler({
      store,
      decider: counterDecider(),
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 25 },
      random: () => {
        delays.push(delays.length);
        return 0;
      },
    });
    const error = await handler.handle('counter-1', add(1), { commandId: 'c1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ attempts: 4, stream: 'counter-1' });
    expect(appends).toHaveLength(4);
    expect(delays).toHaveLength(3);
  });

  it('when the store refuses a batch, retries its commands one by one so only the bad one fails', async () => {
    const memory = new MemoryEventStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { store, appends } = interceptedStore(memory, async (_stream, events) => {
      if (appends.length === 1) await gate;
      if (events.some((e) => (e.data as { by: number }).by === 5)) throw new TypeError('refused by the store');
    });
    const handler = createCommandHandler({ store, decider: counterDecider() });
    const first = handler.handle('counter-1', add(1), { commandId: 'c1' });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const good = handler.handle('counter-1', add(2), { commandId: 'c2' });
    const bad = handler.handle('counter-1', add(5), { commandId: 'c3' });
    release();
    await first;
    expect(await good).toMatchObject({ state: 3 });
    await expect(bad).rejects.toThrow('refused by the store');
    expect(appends.map((batch) => batch.length)).toEqual([1, 2, 1, 1]);
  });

  it('refuses a context without a command id before reading anything', async () => {
    const memory = new MemoryEventStore();
    const { store, reads } = interceptedStore(memory, async () => undefined);
    const handler = createCommandHandler({ store, decider: counterDecider() });
    await expect(handler.handle('counter-1', add(1), { commandId: '' })).rejects.toThrow(TypeError);
    expect(reads).toEqual([]);
  });

  it('load() folds the stream and returns its events', async () => {
    const store = new MemoryEventStore();
    const handler = createCommandHandler({ store, decider: counterDecider() });
    await handler.handle('counter-1', add(2), { commandId: 'c1' });
    await handler.handle('counter-1', add(3), { commandId: 'c2' });
    const loaded = await handler.load('counter-1');
    expect(loaded).toMatchObject({ state: 5, version: 1n });
    expect(loaded.events.map((e) => e.metadata.commandId)).toEqual(['c1', 'c2']);
    expect(await handler.load('counter-none')).toMatchObject({ state: 0, version: null, events: [] });
  });
});
