import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  eventIdFor,
  MemoryEventStore,
  OrdoError,
  transactStreams,
  UnsupportedOperationError,
  type EventOf,
  type EventStore,
  type StreamAppendRequest,
  type StreamFold,
} from '@ordo/core';

const FAST = { baseDelayMs: 0, maxDelayMs: 0 };

/** An account: its balance, moved only by transfers between two accounts. */
function account(stream: string): StreamFold<number> {
  return {
    stream,
    initialState: 100,
    evolve: (balance, event: EventOf) => balance + (event.data as { amount: number }).amount,
  };
}

class OverdraftError extends OrdoError {
  override name = 'OverdraftError';
}

function transfer(store: EventStore, from: string, to: string, amount: number, commandId: string) {
  return transactStreams({
    store,
    streams: { from: account(from), to: account(to) },
    decide({ from: balance }) {
      if (balance < amount) throw new OverdraftError(`${from} has ${balance}`);
      return {
        from: [{ type: 'Moved', data: { amount: -amount } }],
        to: [{ type: 'Moved', data: { amount } }],
      };
    },
    context: { commandId },
    retry: FAST,
  });
}

/** Counts reads per stream and lets a test act before each multi-stream append. */
function watchedStore(memory: MemoryEventStore, before: (requests: readonly StreamAppendRequest[]) => Promise<void> = async () => {}) {
  const reads: string[] = [];
  const store: EventStore = Object.assign(Object.create(memory) as EventStore, {
    async readStream(...args: Parameters<EventStore['readStream']>) {
      reads.push(args[0]);
      return memory.readStream(...args);
    },
    async appendToStreams(requests: readonly StreamAppendRequest[]) {
      await before(requests);
      return memory.appendToStreams(requests);
    },
  });
  return { store, reads };
}

describe('transactStreams', () => {
  it('decides on every stream’s state and writes each stream’s events in one append, ids from the command id', async () => {
    const memory = new MemoryEventStore();
    const result = await transfer(memory, 'acc-a', 'acc-b', 30, 'cmd-1');
    expect(result.states).toEqual({ from: 70, to: 130 });
    expect(result).toMatchObject({ noop: false, duplicate: false, attempts: 1 });
    expect(result.written.map((w) => w.stream)).toEqual(['acc-a', 'acc-b']);
    const a = await memory.readStream('acc-a');
    expect(a.events.map((e) => e.id)).toEqual([eventIdFor('acc-a', 'cmd-1', 0)]);
    expect(a.events[0]!.metadata.commandId).toBe('cmd-1');
    expect(result.position).toBe((await memory.readStream('acc-b')).events[0]!.globalPosition);
  });

  it('the same command again is recognised and writes nothing', async () => {
    const memory = new MemoryEventStore();
    await transfer(memory, 'acc-a', 'acc-b', 30, 'cmd-1');
    const again = await transfer(memory, 'acc-a', 'acc-b', 30, 'cmd-1');
    expect(again).toMatchObject({ duplicate: true, written: [], position: null });
    expect(again.states).toEqual({ from: 70, to: 130 });
    expect(await memory.headPosition()).toBe(2n);
  });

  it('a decision with no events writes nothing', async () => {
    const memory = new MemoryEventStore();
    const result = await transactStreams({
      store: memory,
      streams: { a: account('acc-a') },
      decide: () => ({}),
      context: { commandId: 'nothing' },
    });
    expect(result).toMatchObject({ noop: true, written: [], position: null });
    expect(await memory.headPosition()).toBe(0n);
  });

  it('after a conflict it reads again only the stream that moved, then decides again', async () => {
    const memory = new MemoryEventStore();
    let raced = false;
    const { store, reads } = watchedStore(memory, async () => {
      if (raced) return;
      raced = true;
      // Another writer moves `acc-b` between this command's read and its append.
      await memory.appendToStream('acc-b', [{ id: eventIdFor('acc-b', 'other', 0), type: 'Moved', data: { amount: 5 } }], { expectedVersion: 'any' });
    });
    const result = await transfer(store, 'acc-a', 'acc-b', 10, 'cmd-2');
    expect(result.attempts).toBe(2);
    expect(result.states).toEqual({ from: 90, to: 115 });
    expect(reads.filter((s) => s === 'acc-a')).toHaveLength(1);
    expect(reads.filter((s) => s === 'acc-b')).toHaveLength(2);
  });

  it('a domain error writes nothing', async () => {
    const memory = new MemoryEventStore();
    await expect(transfer(memory, 'acc-a', 'acc-b', 500, 'big')).rejects.toBeInstanceOf(OverdraftError);
    expect(await memory.headPosition()).toBe(0n);
  });

  it('a store without atomic multi-stream appends: UnsupportedOperationError reaches the caller', async () => {
    const memory = new MemoryEventStore();
    const store: EventStore = Object.assign(Object.create(memory) as EventStore, {
      appendToStreams: () => Promise.reject(new UnsupportedOperationError('appendToStreams', 'not here')),
    });
    await expect(transfer(store, 'acc-a', 'acc-b', 1, 'x')).rejects.toBeInstanceOf(UnsupportedOperationError);
  });

  it('property: racing transfers over shared accounts keep the total, never overdraw, and each applies once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 80 })), { minLength: 2, maxLength: 16 }),
        fc.scheduler(),
        async (transfers, s) => {
          const memory = new MemoryEventStore();
          const store: EventStore = Object.assign(Object.create(memory) as EventStore, {
            readStream: s.scheduleFunction((...args: Parameters<EventStore['readStream']>) => memory.readStream(...args)),
            appendToStreams: s.scheduleFunction((requests: readonly StreamAppendRequest[]) => memory.appendToStreams(requests)),
          });
          const moves = transfers.filter(([from, to]) => from !== to);
          const outcomes = moves.map(([from, to, amount], i) =>
            transfer(store, `acc-${from}`, `acc-${to}`, amount, `t${i}`).then(() => 'ok', (e: unknown) => e),
          );
          await s.waitFor(Promise.all(outcomes));
          const results = await Promise.all(outcomes);
          for (const r of results) if (r !== 'ok') expect(r).toBeInstanceOf(OverdraftError);
          let total = 0;
          for (let a = 0; a < 4; a++) {
            const read = await memory.readStream(`acc-${a}`);
            const balance = read.events.reduce((b, e) => b + (e.data as { amount: number }).amount, 100);
            expect(balance).toBeGreaterThanOrEqual(0);
            total += balance;
          }
          expect(total).toBe(400);
          const applied = results.filter((r) => r === 'ok').length;
          expect(await memory.headPosition()).toBe(BigInt(applied * 2));
        },
      ),
      { numRuns: 60 },
    );
  });
});
