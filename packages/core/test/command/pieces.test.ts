import { describe, expect, it } from 'vitest';
import { AppliedCommands, eventIdFor } from '../../src/command/idempotency.js';
import { backoffDelay, DEFAULT_RETRY } from '../../src/command/retry.js';
import { createStreamQueue } from '../../src/command/stream-queue.js';

describe('backoffDelay', () => {
  it('is random() times an exponential ceiling capped at maxDelayMs', () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 2, maxDelayMs: 100 };
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(policy, attempt, () => 1))).toEqual([2, 4, 8, 16]);
    expect(backoffDelay(policy, 10, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, () => 0.5)).toBe(4);
  });
});

describe('idempotency', () => {
  it('derives the same event id from the same stream, command and index, and another otherwise', () => {
    const id = eventIdFor('s', 'c', 0);
    expect(eventIdFor('s', 'c', 0)).toBe(id);
    expect(new Set([id, eventIdFor('s', 'c', 1), eventIdFor('s2', 'c', 0), eventIdFor('s', 'c2', 0)]).size).toBe(4);
  });

  it('recognises a command by the events read and by the batches appended', () => {
    const applied = new AppliedCommands<{ type: string; data: number }>();
    const read = (commandId: string | undefined, data: number, position: bigint) =>
      applied.recordRead({
        id: String(position),
        type: 'T',
        data,
        metadata: commandId === undefined ? {} : { commandId },
        streamName: 's',
        streamVersion: position,
        globalPosition: position,
        recordedAt: new Date(0),
      });
    read('a', 1, 1n);
    read('a', 2, 2n);
    read(undefined, 3, 3n);
    expect(applied.find('a')).toEqual({ events: [{ type: 'T', data: 1 }, { type: 'T', data: 2 }], position: 2n });
    applied.recordAppended(new Map([['b', [{ type: 'T', data: 4 }]]]), 9n);
    expect(applied.find('b')).toEqual({ events: [{ type: 'T', data: 4 }], position: 9n });
    expect(applied.find('c')).toBeUndefined();
  });
});

describe('stream queue', () => {
  type Job = { n: number; reject(error: unknown): void };
  const job = (n: number, rejected: unknown[]): Job => ({ n, reject: (error) => rejected.push([n, error]) });

  it('opens a stream once and hands queued jobs over in batches, streams apart', async () => {
    const opened: string[] = [];
    const batches: [string, number[]][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = createStreamQueue<Job, string>({
      batchSize: 2,
      async open(stream) {
        opened.push(stream);
        return stream;
      },
      async handle(stream, _session, batch) {
        batches.push([stream, batch.map((j) => j.n)]);
        if (batches.length === 1) await gate;
      },
    });
    const rejected: unknown[] = [];
    for (const n of [1, 2]) queue.enqueue('a', job(n, rejected));
    await new Promise((resolve) => setTimeout(resolve, 0));
    for (const n of [3, 4, 5]) queue.enqueue('a', job(n, rejected));
    release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(opened).toEqual(['a']);
    expect(batches).toEqual([['a', [1, 2]], ['a', [3, 4]], ['a', [5]]]);
    queue.enqueue('a', job(6, rejected));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(opened).toEqual(['a', 'a']);
    expect(rejected).toEqual([]);
  });

  it('rejects every queued job when opening fails, and only the failing batch when handling fails', async () => {
    const rejected: unknown[] = [];
    const failing = createStreamQueue<Job, null>({
      batchSize: 1,
      open: () => Promise.reject(new Error('read failed')),
      handle: () => Promise.resolve(),
    });
    failing.enqueue('a', job(1, rejected));
    failing.enqueue('a', job(2, rejected));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(rejected).toEqual([[1, new Error('read failed')], [2, new Error('read failed')]]);

    rejected.length = 0;
    const handled: number[] = [];
    const flaky = createStreamQueue<Job, null>({
      batchSize: 1,
      open: async () => null,
      async handle(_stream, _session, [j]) {
        if (j!.n === 1) throw new Error('batch failed');
        handled.push(j!.n);
      },
    });
    flaky.enqueue('a', job(1, rejected));
    flaky.enqueue('a', job(2, rejected));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(rejected).toEqual([[1, new Error('batch failed')]]);
    expect(handled).toEqual([2]);
  });
});
