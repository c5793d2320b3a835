import { randomUUID } from 'node:crypto';
import type { Scheduler } from 'fast-check';
import {
  CheckpointConflictError,
  MemoryCheckpointStore,
  type AppendOptions,
  type CheckpointStore,
  type EventStore,
  type LogFilter,
  type NewEvent,
  type ReadStreamOptions,
  type RecordedEvent,
} from '@ordo/core';
import { type PlaceOrderInput } from '@ordo/orders';

/** Opens a store the suite owns (and closes). It may already hold events of other runs. */
export type OpenStore = () => Promise<EventStore>;

/** A token unique to one test or run, usable in stream names and order number prefixes (8 of [0-9A-F]). */
export function runToken(): string {
  return randomUUID().replace(/-/g, '').slice(0, 8).toUpperCase();
}

/** Opens a store, runs `body`, and closes the store whatever happens. */
export async function withStore<T>(open: OpenStore, body: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await open();
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/**
 * Like {@link withStore} for a run under a fast-check scheduler: closing keeps releasing scheduled
 * store calls, so a subscription left running (a bug the run may have found) cannot hang the close.
 */
export async function withScheduledStore<T>(open: OpenStore, s: Scheduler, body: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await open();
  try {
    return await body(store);
  } finally {
    await drive(s, store.close());
  }
}

/** Every event of the log after `after` that passes `filter`, read from the store. */
export async function readLog(store: EventStore, filter: LogFilter, after = 0n): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of store.readAll({ after, filter })) events.push(event);
  return events;
}

/**
 * A checkpoint store whose checkpoint for `name` starts at the store's current head, so a
 * projection only sees what the test writes, whatever the log already holds.
 */
export async function checkpointsFromHead(store: EventStore, ...names: string[]): Promise<MemoryCheckpointStore> {
  const checkpoints = new MemoryCheckpointStore();
  const head = await store.headPosition();
  for (const name of names) await checkpoints.store(name, head, null);
  return checkpoints;
}

/** A successful checkpoint write, or a refused one. */
export interface CheckpointWrite {
  name: string;
  position: bigint;
  expected: bigint | null;
  outcome: 'stored' | 'conflict' | 'error';
  by?: string;
}

/**
 * Wraps a checkpoint store and records every `store` call and its outcome. `before` runs before the
 * write reaches the wrapped store and may throw (a crash) or wait.
 */
export function recordingCheckpoints(
  inner: CheckpointStore,
  log: CheckpointWrite[],
  options: { by?: string; before?: (write: { name: string; position: bigint; expected: bigint | null }) => Promise<void> | void } = {},
): CheckpointStore {
  return {
    read: (name) => inner.read(name),
    async store(name, position, expected) {
      const base = { name, position, expected, ...(options.by !== undefined && { by: options.by }) };
      try {
        await options.before?.({ name, position, expected });
        await inner.store(name, position, expected);
      } catch (error) {
        log.push({ ...base, outcome: error instanceof CheckpointConflictError ? 'conflict' : 'error' });
        throw error;
      }
      log.push({ ...base, outcome: 'stored' });
    },
  };
}

/**
 * Asserts that the successful writes of one checkpoint form a single chain: each expects exactly
 * the position the previous one stored, and positions only grow. Two copies that both advanced
 * the checkpoint from one value would break the chain.
 */
export function checkpointChainIssues(writes: readonly CheckpointWrite[], start: bigint | null): string[] {
  const issues: string[] = [];
  let current = start;
  for (const write of writes.filter((w) => w.outcome === 'stored')) {
    if (write.expected !== current) issues.push(`write to ${write.position} expected ${write.expected}, checkpoint was ${current}`);
    if (current !== null && write.position <= current) issues.push(`checkpoint went from ${current} to ${write.position}`);
    current = write.position;
  }
  return issues;
}

/**
 * An {@link EventStore} whose appends and stream reads wait for the fast-check scheduler, which
 * releases them in an order of its choosing: each run explores another interleaving. The global
 * log subscription and the head position pass straight through.
 *
 * `loseResponse(stream, events)` may return true to make an append happen and then throw, as when
 * the connection drops before the answer arrives; callers retry.
 */
export function scheduledStore(
  inner: EventStore,
  s: Scheduler,
  options: { loseResponse?: (stream: string, events: readonly NewEvent[]) => boolean } = {},
): EventStore {
  return {
    async appendToStream(stream: string, events: readonly NewEvent[], opts: AppendOptions) {
      await s.schedule(Promise.resolve(), `append ${stream} ${events.map((e) => e.type).join(',')}`);
      const result = await inner.appendToStream(stream, events, opts);
      if (options.loseResponse?.(stream, events)) throw new LostResponseError(stream);
      return result;
    },
    async appendToStreams(requests) {
      await s.schedule(Promise.resolve(), `append ${requests.map((r) => `${r.stream} ${r.events.map((e) => e.type).join(',')}`).join(' + ')}`);
      const result = await inner.appendToStreams(requests);
      const lost = requests.find((r) => options.loseResponse?.(r.stream, r.events));
      if (lost) throw new LostResponseError(lost.stream);
      return result;
    },
    async readStream(stream: string, opts?: ReadStreamOptions) {
      await s.schedule(Promise.resolve(), `read ${stream}`);
      return inner.readStream(stream, opts);
    },
    readAll: (opts) => inner.readAll(opts),
    subscribeToAll: (opts) => inner.subscribeToAll(opts),
    headPosition: () => inner.headPosition(),
    close: () => inner.close(),
  };
}

/** The append was written but its answer never arrived. */
export class LostResponseError extends Error {
  override name = 'LostResponseError';
  constructor(readonly stream: string) {
    super(`connection lost after appending to ${stream}`);
  }
}

/**
 * Runs the scheduler until `work` settles: releases one scheduled store call at a time, chosen by
 * the scheduler, and lets timers run (backoff sleeps) whenever nothing is scheduled. A watchdog
 * turns a deadlock into a failure instead of a hung test.
 */
export async function drive<T>(s: Scheduler, work: Promise<T>, watchdogMs = 45_000): Promise<T> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + watchdogMs;
  while (!settled) {
    if (Date.now() > deadline) throw new Error(`scheduled work did not settle (pending store calls: ${s.count()})`);
    if (s.count() > 0) await s.waitNext(1);
    else await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return work;
}

/** Polls `condition` until it holds. Only a guard against hanging: never a timing assertion. */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, watchdogMs = 20_000): Promise<void> {
  const deadline = Date.now() + watchdogMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A valid order for `idempotencyKey`. */
export function orderInput(
  idempotencyKey: string,
  extra: { prefix?: string; email?: boolean; phone?: boolean } = {},
): PlaceOrderInput {
  const email = extra.email ?? true;
  const phone = extra.phone ?? false;
  return {
    idempotencyKey,
    customer: {
      name: 'Ada',
      ...(email && { email: 'ada@example.com' }),
      ...(phone && { phone: '+4915112345678' }),
    },
    currency: 'EUR',
    lines: [{ sku: 'PIZZA-M', name: 'Margherita', quantity: 1, unitPrice: { amount: 950, currency: 'EUR' } }],
    ...(extra.prefix !== undefined && { prefix: extra.prefix }),
  };
}

/** A small deterministic PRNG, so a fast-check seed reproduces a sender's behaviour (the examples' own). */
export { seededRandom as prng } from '../../examples/random.js';

/** A stable 32-bit hash of a string (FNV-1a), to derive per-key randomness from a seed. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Counts of each value. */
export function countBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}
