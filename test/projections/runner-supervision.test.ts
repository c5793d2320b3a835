/**
 * The runner under ordinary faults, on the in-memory store: a checkpoint write or a read of the log
 * that fails once, a handler that meets a transient error, a real poison event, and `stop()` in
 * the middle of a backoff.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MemoryCheckpointStore,
  MemoryEventStore,
  ProjectionFailedError,
  createProjectionRunner,
  health,
  type CheckpointStore,
  type EventStore,
  type ProjectionState,
  type RecordedEvent,
  type SubscribeOptions,
} from '@ordo/core';
import { eventually } from './helpers.js';

const FAST = { baseDelayMs: 1, maxDelayMs: 4 };

async function appendTicks(store: EventStore, count: number): Promise<RecordedEvent[]> {
  for (let i = 0; i < count; i++) {
    await store.appendToStream(`tick-${i % 3}`, [{ id: randomUUID(), type: 'Tick', data: { i } }], { expectedVersion: 'any' });
  }
  const events: RecordedEvent[] = [];
  for await (const event of store.readAll()) events.push(event);
  return events;
}

/** Checkpoints whose `store` fails on the calls `failOn` says (1 = the first call), with `error`. */
function flakyCheckpoints(failOn: (call: number) => boolean, error: () => unknown = () => new Error('checkpoint write lost')) {
  const inner = new MemoryCheckpointStore();
  let calls = 0;
  const seen: { call: number; failed: boolean }[] = [];
  const checkpoints: CheckpointStore & { seen: typeof seen; onCall?: () => void } = {
    seen,
    read: (name) => inner.read(name),
    async store(name, position, expected) {
      calls++;
      checkpoints.onCall?.();
      const fail = failOn(calls);
      seen.push({ call: calls, failed: fail });
      if (fail) throw error();
      await inner.store(name, position, expected);
    },
  };
  return checkpoints;
}

/** A store whose subscriptions fail (through `onError`, as a lost connection does) before the deliveries `failBefore` names. */
function flakyReads(store: MemoryEventStore, failBefore: (subscription: number, delivered: number) => boolean, error: () => unknown = () => new Error('read lost')): EventStore {
  let subscriptions = 0;
  return Object.assign(Object.create(store) as MemoryEventStore, {
    subscribeToAll(options: SubscribeOptions) {
      const n = ++subscriptions;
      let delivered = 0;
      return store.subscribeToAll({
        ...options,
        async onEvent(event: RecordedEvent) {
          if (failBefore(n, delivered++)) throw error();
          await options.onEvent(event);
        },
      });
    },
  });
}

/** A projection that records every event it is handed, in order (not idempotent: a repeat shows). */
function recorder(fail?: (event: RecordedEvent) => unknown) {
  const handled: RecordedEvent[] = [];
  return {
    handled,
    projection: {
      name: 'recorder',
      handle(event: RecordedEvent) {
        const error = fail?.(event);
        if (error) throw error;
        handled.push(event);
      },
    },
  };
}

const ids = (events: readonly RecordedEvent[]) => events.map((e) => e.id);
/** Ids in first-seen order: a failing handler's batch is handed over again, so its events repeat. */
const distinctIds = (events: readonly RecordedEvent[]) => [...new Set(ids(events))];

describe('projection runner under faults (memory)', () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  beforeEach(() => {
    warnings.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('a checkpoint write that fails once is retried: nothing lost, nothing twice, no poison, and status says retrying meanwhile', async () => {
    const store = new MemoryEventStore();
    const log = await appendTicks(store, 40);
    const checkpoints = flakyCheckpoints((call) => call === 2);
    const states: ProjectionState[] = [];
    const { handled, projection } = recorder();
    const failures: ProjectionFailedError[] = [];
    const runner = createProjectionRunner({ store, checkpoints, projection, checkpointEvery: 7, backoff: FAST, onFailure: (e) => failures.push(e) });
    checkpoints.onCall = () => states.push(runner.status().state);
    await runner.start();
    await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
    await eventually(() => runner.status().state === 'running', 'the runner to report running');
    await runner.stop();

    expect(ids(handled)).toEqual(ids(log));
    expect(failures).toEqual([]);
    expect(runner.failure).toBeUndefined();
    expect(checkpoints.seen.filter((c) => c.failed)).toHaveLength(1);
    expect(states[2]).toBe('retrying'); // the call after the failed one is its retry
    expect(runner.status()).toMatchObject({ state: 'stopped', consecutiveFailures: 0, lastError: { message: 'checkpoint write lost', retried: true } });
    expect(await checkpoints.read('recorder')).toBe(log[log.length - 1]!.globalPosition);
  });

  it('a read of the log that fails once is retried from where the runner got to: nothing lost, nothing twice, no poison', async () => {
    const memory = new MemoryEventStore();
    const log = await appendTicks(memory, 30);
    const store = flakyReads(memory, (subscription, delivered) => subscription === 1 && delivered === 11);
    const checkpoints = new MemoryCheckpointStore();
    const { handled, projection } = recorder();
    const runner = createProjectionRunner({ store, checkpoints, projection, checkpointEvery: 5, backoff: FAST });
    await runner.start();
    await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
    const live = await appendTicks(memory, 3);
    await runner.waitFor(live[live.length - 1]!.globalPosition, { timeoutMs: 10_000 });
    await runner.stop();

    expect(ids(handled)).toEqual(ids(live)); // `live` is the whole log, read again
    expect(live.slice(0, log.length)).toEqual(log);
    expect(runner.failure).toBeUndefined();
    expect(runner.status().lastError?.message).toBe('read lost');
  });

  it('property: any one failed read and any one failed checkpoint write, anywhere, lose and repeat nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 45 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 10 }),
        async (count, failRead, failWrite, checkpointEvery) => {
          const memory = new MemoryEventStore();
          const log = await appendTicks(memory, count);
          const store = flakyReads(memory, (subscription, delivered) => subscription === 1 && delivered === failRead);
          const checkpoints = flakyCheckpoints((call) => call === failWrite);
          const { handled, projection } = recorder();
          const runner = createProjectionRunner({ store, checkpoints, projection, checkpointEvery, backoff: FAST });
          await runner.start();
          await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
          await runner.stop();
          expect(ids(handled)).toEqual(ids(log));
          expect(runner.failure).toBeUndefined();
          expect(await checkpoints.read('recorder')).toBe(log[log.length - 1]!.globalPosition);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a handler meeting a transient error more often than maxAttempts is not poisoned: it waits, then applies the event once', async () => {
    const store = new MemoryEventStore();
    const log = await appendTicks(store, 5);
    let transientFailures = 6;
    const { handled, projection } = recorder((event) =>
      event.id === log[2]!.id && transientFailures-- > 0 ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) : undefined,
    );
    const runner = createProjectionRunner({ store, checkpoints: new MemoryCheckpointStore(), projection, retry: { maxAttempts: 2 }, backoff: FAST });
    await runner.start();
    await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
    await runner.stop();
    expect(distinctIds(handled)).toEqual(ids(log));
    expect(runner.failure).toBeUndefined();
    expect(transientFailures).toBeLessThan(0);
  });

  it('a real poison event still stops the runner, named correctly, even after a failed read and a failed checkpoint write', async () => {
    const memory = new MemoryEventStore();
    const log = await appendTicks(memory, 20);
    const poison = log[13]!;
    const store = flakyReads(memory, (subscription, delivered) => subscription === 1 && delivered === 4);
    const checkpoints = flakyCheckpoints((call) => call === 1);
    const { handled, projection } = recorder((event) => (event.id === poison.id ? new Error('cannot handle this one') : undefined));
    const failures: ProjectionFailedError[] = [];
    const runner = createProjectionRunner({
      store,
      checkpoints,
      projection,
      checkpointEvery: 3,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
      backoff: FAST,
      onFailure: (e) => failures.push(e),
    });
    await runner.start();
    await expect(runner.waitUntilCaughtUp({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(ProjectionFailedError);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.event).toEqual({ stream: poison.streamName, version: poison.streamVersion, position: poison.globalPosition, type: 'Tick' });
    expect(failures[0]!.attempts).toBe(3);
    expect(runner.status()).toMatchObject({ state: 'stopped-on-poison', position: log[12]!.globalPosition, lastError: { message: 'cannot handle this one', retried: false } });
    expect(distinctIds(handled)).toEqual(ids(log.slice(0, 13)));
    expect(await checkpoints.read('recorder')).toBe(log[12]!.globalPosition);
    expect(health([runner]).status).toBe('failing');
  });

  it('stop() during a long backoff after a failed checkpoint write resolves, and handles nothing more', async () => {
    const store = new MemoryEventStore();
    await appendTicks(store, 3);
    const checkpoints = flakyCheckpoints(() => true);
    const { projection } = recorder();
    const runner = createProjectionRunner({ store, checkpoints, projection, backoff: { baseDelayMs: 600_000, maxDelayMs: 600_000 } });
    await runner.start();
    await eventually(() => runner.status().state === 'retrying', 'the first failure');
    expect(health([runner]).status).toBe('degraded');
    await runner.stop();
    expect(runner.status().state).toBe('stopped');
    expect(checkpoints.seen.length).toBeLessThanOrEqual(2); // the failed write, and at most the one stop() tries
  });

  it('stopped while a batch is being retried, it leaves the checkpoint before that batch, whatever reports were queued behind it', async () => {
    const memory = new MemoryEventStore();
    await appendTicks(memory, 4);
    // Two caught-up reports per caught-up, as a polling store sends when a poll comes while the first is queued.
    const store = Object.assign(Object.create(memory) as MemoryEventStore, {
      subscribeToAll(options: SubscribeOptions) {
        return memory.subscribeToAll({
          ...options,
          onCaughtUp(position: bigint) {
            options.onCaughtUp?.(position);
            options.onCaughtUp?.(position);
          },
        });
      },
    });
    const checkpoints = new MemoryCheckpointStore();
    const { handled, projection } = recorder(() => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const runner = createProjectionRunner({ store, checkpoints, projection, backoff: FAST });
    await runner.start();
    await eventually(() => runner.status().consecutiveFailures >= 3, 'the batch to keep failing');
    await runner.stop();
    expect(handled).toEqual([]);
    expect(runner.position).toBe(0n);
    expect((await checkpoints.read('recorder')) ?? 0n).toBe(0n); // none, or the start of the log
  });

  it('stop() during a long backoff after a failed read resolves', async () => {
    const memory = new MemoryEventStore();
    await appendTicks(memory, 3);
    const store = flakyReads(memory, () => true);
    const { handled, projection } = recorder();
    const runner = createProjectionRunner({ store, checkpoints: new MemoryCheckpointStore(), projection, backoff: { baseDelayMs: 600_000, maxDelayMs: 600_000 } });
    await runner.start();
    await eventually(() => runner.status().state === 'retrying', 'the first failed read');
    await runner.stop();
    expect(runner.status().state).toBe('stopped');
    expect(handled).toEqual([]);
  });

  it('many retries in a row leave no listeners behind (no MaxListenersExceededWarning)', async () => {
    const store = new MemoryEventStore();
    const log = await appendTicks(store, 4);
    const checkpoints = flakyCheckpoints((call) => call <= 40);
    const { handled, projection } = recorder();
    const runner = createProjectionRunner({ store, checkpoints, projection, backoff: { baseDelayMs: 0, maxDelayMs: 0 } });
    await runner.start();
    await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
    await eventually(() => checkpoints.seen.length > 40, 'the retries to succeed');
    await runner.stop();
    expect(ids(handled)).toEqual(ids(log));
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  });

  it('status reports catching-up until the head is reached, then running with no lag', async () => {
    const store = new MemoryEventStore();
    const log = await appendTicks(store, 6);
    const gate = { open: () => undefined as void, promise: Promise.resolve() };
    gate.promise = new Promise<void>((resolve) => (gate.open = resolve));
    const runner = createProjectionRunner({
      store,
      checkpoints: new MemoryCheckpointStore(),
      projection: { name: 'slow', handle: () => gate.promise },
    });
    await runner.start();
    await eventually(() => runner.status().lag.seconds >= 0 && runner.status().state === 'catching-up', 'catching up');
    expect(health([runner]).status).toBe('degraded');
    gate.open();
    await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
    await eventually(() => runner.status().state === 'running', 'running');
    expect(runner.status()).toMatchObject({ position: log[log.length - 1]!.globalPosition, lag: { events: 0n, seconds: 0 } });
    expect(health([runner])).toMatchObject({ status: 'ready', reasons: [] });
    await runner.stop();
  });
});
