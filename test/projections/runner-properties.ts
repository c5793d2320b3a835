import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CheckpointConflictError,
  ProjectionFailedError,
  ProjectionTimeoutError,
  createProjectionRunner,
  eventIdFor,
  type CheckpointStore,
  type EventStore,
  type Projection,
  type ProjectionRunner,
  type RecordedEvent,
} from '@ordo/core';
import {
  checkpointChainIssues,
  checkpointsFromHead,
  drive,
  eventually,
  readLog,
  recordingCheckpoints,
  runToken,
  scheduledStore,
  withScheduledStore,
  withStore,
  type CheckpointWrite,
  type OpenStore,
} from './helpers.js';

const TICK = 'Tick';
const EFFECT = 'TickSeen';

/** Appends `count` Tick events (and, when asked, a Noise event the filter must skip) to `stream`. */
async function appendTicks(store: EventStore, stream: string, count: number, noise = false): Promise<void> {
  const events = Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type: TICK, data: { i } }));
  if (noise) events.splice(Math.floor(events.length / 2), 0, { id: randomUUID(), type: 'Noise', data: { i: -1 } });
  if (events.length > 0) await store.appendToStream(stream, events, { expectedVersion: 'any' });
}

/** The Tick events of the test's streams, in log order, read from the store. */
function ticksOf(store: EventStore, prefix: string, after: bigint): Promise<RecordedEvent[]> {
  return readLog(store, { eventTypes: [TICK], streamPrefixes: [`${prefix}-src-`] }, after);
}

/** The effects written to the output stream, in order. */
async function effectsOf(store: EventStore, prefix: string): Promise<string[]> {
  const read = await store.readStream(`${prefix}-out`);
  return read.events.map((e) => (e.data as { source: string }).source);
}

/**
 * A projection over the test's Tick events whose effect is an event in `<prefix>-out` naming the
 * source event. With `ids: 'deterministic'` the effect's id derives from the source event, the
 * exactly-once technique for stores without transactions; `'random'` is the broken control.
 */
function tickProjection(
  store: EventStore,
  prefix: string,
  options: {
    name?: string;
    ids?: 'deterministic' | 'random' | 'none';
    handled?: RecordedEvent[];
    /** Runs after the effect is written; may throw. */
    after?: (event: RecordedEvent) => void | Promise<void>;
    /** Runs before anything; may throw. */
    before?: (event: RecordedEvent) => void | Promise<void>;
  } = {},
): Projection {
  const out = `${prefix}-out`;
  return {
    name: options.name ?? `ticks-${prefix}`,
    eventTypes: [TICK],
    streamPrefixes: [`${prefix}-src-`],
    async handle(event) {
      options.handled?.push(event);
      await options.before?.(event);
      if (options.ids !== 'none') {
        const id = options.ids === 'random' ? randomUUID() : eventIdFor(out, event.id, 0);
        await store.appendToStream(out, [{ id, type: EFFECT, data: { source: event.id } }], { expectedVersion: 'any' });
      }
      await options.after?.(event);
    },
  };
}

/** Event ids, which read well in failure output. */
const ids = (events: readonly RecordedEvent[]) => events.map((e) => e.id);

/** What a projection writes through a transactional checkpoint store. */
interface Staging {
  write(value: string): void;
}

/**
 * A checkpoint store that can write a projection's output and its checkpoint in one transaction,
 * the way an adapter over a SQL database does: output is staged and becomes visible together with
 * the checkpoint at commit, or not at all. The output is a plain list, deliberately not
 * idempotent, so applying an event twice would show.
 */
class TransactionalCheckpoints implements CheckpointStore<Staging> {
  readonly positions = new Map<string, bigint>();
  readonly output: string[] = [];
  /** When it returns true, the "process" dies after the work and before the commit. */
  crashBeforeCommit: (position: bigint) => boolean = () => false;
  /** Called once the work is done, before the commit check (lets tests interleave two copies). */
  beforeCommit: () => Promise<void> = async () => undefined;
  conflicts = 0;

  async read(name: string) {
    return this.positions.get(name) ?? null;
  }

  async store(name: string, position: bigint, expected: bigint | null) {
    const actual = this.positions.get(name) ?? null;
    if (actual !== expected) throw new CheckpointConflictError(name, expected, actual);
    this.positions.set(name, position);
  }

  async transaction<T>(name: string, position: bigint, expected: bigint | null, work: (tx: Staging) => Promise<T>): Promise<T> {
    const staged: string[] = [];
    const result = await work({ write: (value) => staged.push(value) });
    await this.beforeCommit();
    if (this.crashBeforeCommit(position)) throw new Error(`crashed before committing position ${position}`);
    const actual = this.positions.get(name) ?? null;
    if (actual !== expected) {
      this.conflicts++;
      throw new CheckpointConflictError(name, expected, actual);
    }
    this.output.push(...staged);
    this.positions.set(name, position);
    return result;
  }
}

function transactionalProjection(prefix: string, name: string, handled: RecordedEvent[] = [], fail?: (e: RecordedEvent) => boolean): Projection<Staging> {
  return {
    name,
    eventTypes: [TICK],
    streamPrefixes: [`${prefix}-src-`],
    handle(event, { tx }) {
      handled.push(event);
      tx.write(event.id);
      if (fail?.(event)) throw new Error(`handler died after writing ${event.id}`);
    },
  };
}

/** The contract every {@link CheckpointStore} keeps. */
export function checkpointStoreSuite<Tx = undefined>(openCheckpoints: () => Promise<CheckpointStore<Tx>>): void {
  describe('checkpoint store', () => {
    it('reads null for a projection without a checkpoint, then what was stored', async () => {
      const checkpoints = await openCheckpoints();
      const name = `cp-${runToken()}`;
      expect(await checkpoints.read(name)).toBeNull();
      await checkpoints.store(name, 7n, null);
      expect(await checkpoints.read(name)).toBe(7n);
      await checkpoints.store(name, 9n, 7n);
      expect(await checkpoints.read(name)).toBe(9n);
    });

    it('refuses a write whose expected position is not the stored one, names both, and stores nothing', async () => {
      const checkpoints = await openCheckpoints();
      const name = `cp-${runToken()}`;
      await checkpoints.store(name, 5n, null);
      const refused = await checkpoints.store(name, 8n, null).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CheckpointConflictError);
      expect(refused).toMatchObject({ projection: name, expected: null, actual: 5n });
      const stale = await checkpoints.store(name, 9n, 4n).catch((e: unknown) => e);
      expect(stale).toMatchObject({ projection: name, expected: 4n, actual: 5n });
      expect(await checkpoints.read(name)).toBe(5n);
    });

    it('lets exactly one of two racing writers from the same position win', async () => {
      const checkpoints = await openCheckpoints();
      const name = `cp-${runToken()}`;
      await checkpoints.store(name, 1n, null);
      const results = await Promise.allSettled([checkpoints.store(name, 2n, 1n), checkpoints.store(name, 3n, 1n)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.reason).toBeInstanceOf(CheckpointConflictError);
      expect([2n, 3n]).toContain(await checkpoints.read(name));
    });
  });
}

/** The projection runner's promises, against any {@link EventStore}. */
export function projectionRunnerSuite(open: OpenStore): void {
  describe('projection runner', () => {
    it('hands over the backlog, then live events, in log order, and only the events its filter asks for', () =>
      withStore(open, async (store) => {
        const prefix = `rt${runToken()}`;
        const name = `ticks-${prefix}`;
        const start = await store.headPosition();
        const checkpoints = await checkpointsFromHead(store, name);
        await appendTicks(store, `${prefix}-src-a`, 4, true);
        await appendTicks(store, `other${prefix}-src-a`, 2); // another prefix: skipped
        await appendTicks(store, `${prefix}-src-b`, 3, true);
        const handled: RecordedEvent[] = [];
        const runner = createProjectionRunner({ store, checkpoints, projection: tickProjection(store, prefix, { handled, ids: 'none' }) });
        await runner.start();
        await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
        const backlog = await ticksOf(store, prefix, start);
        expect(backlog).toHaveLength(7);
        expect(ids(handled)).toEqual(ids(backlog));

        // Live: interleaved streams, other prefixes and other types.
        await appendTicks(store, `${prefix}-src-b`, 2, true);
        await appendTicks(store, `other${prefix}-src-b`, 1);
        await appendTicks(store, `${prefix}-src-a`, 3);
        await appendTicks(store, `${prefix}-src-c`, 1, true);
        await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
        const all = await ticksOf(store, prefix, start);
        expect(all).toHaveLength(13);
        expect(ids(handled)).toEqual(ids(all));
        expect(handled.every((e) => e.type === TICK && e.streamName.startsWith(`${prefix}-src-`))).toBe(true);
        const positions = handled.map((e) => e.globalPosition);
        expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);

        await runner.stop();
        expect(runner.status().state).toBe('stopped');
        expect(await checkpoints.read(name)).toBe(runner.position);
        expect(runner.position).toBeGreaterThanOrEqual(all[all.length - 1]!.globalPosition);
      }));

    it('stores its checkpoint with compare-and-set, every few events and when caught up', () =>
      withStore(open, async (store) => {
        const prefix = `cp${runToken()}`;
        const name = `ticks-${prefix}`;
        const start = await store.headPosition();
        const base = await checkpointsFromHead(store, name);
        const writes: CheckpointWrite[] = [];
        const checkpoints = recordingCheckpoints(base, writes);
        await appendTicks(store, `${prefix}-src-a`, 10);
        const runner = createProjectionRunner({
          store,
          checkpoints,
          projection: tickProjection(store, prefix, { ids: 'none' }),
          checkpointEvery: 3,
        });
        await runner.start();
        await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
        const ticks = await ticksOf(store, prefix, start);
        await eventually(async () => (await base.read(name)) === runner.position, 'checkpoint stored when caught up');
        await runner.stop();

        const stored = writes.filter((w) => w.outcome === 'stored').map((w) => w.position);
        // Every third event, then the caught-up position.
        for (const i of [2, 5, 8]) expect(stored).toContain(ticks[i]!.globalPosition);
        expect(checkpointChainIssues(writes, start)).toEqual([]);
        expect(writes.every((w) => w.outcome === 'stored')).toBe(true);
        expect(await base.read(name)).toBe(runner.position);
      }));

    it('resumes after its checkpoint when restarted: nothing handled twice, nothing skipped', () =>
      withStore(open, async (store) => {
        const prefix = `rs${runToken()}`;
        const name = `ticks-${prefix}`;
        const start = await store.headPosition();
        const checkpoints = await checkpointsFromHead(store, name);
        const handled: RecordedEvent[] = [];
        await appendTicks(store, `${prefix}-src-a`, 5);
        const first = createProjectionRunner({ store, checkpoints, projection: tickProjection(store, prefix, { handled, ids: 'none' }) });
        await first.start();
        await first.waitUntilCaughtUp({ timeoutMs: 10_000 });
        await first.stop();
        await appendTicks(store, `${prefix}-src-a`, 3);
        await appendTicks(store, `${prefix}-src-b`, 2);
        expect(handled).toHaveLength(5);
        const second = createProjectionRunner({ store, checkpoints, projection: tickProjection(store, prefix, { handled, ids: 'none' }) });
        await second.start();
        await second.waitUntilCaughtUp({ timeoutMs: 10_000 });
        await second.stop();
        expect(ids(handled)).toEqual(ids(await ticksOf(store, prefix, start)));
        expect(new Set(ids(handled)).size).toBe(10);
      }));

    it('waitFor resolves once a position is handled, waitUntilCaughtUp covers the head, lag is head minus position', () =>
      withStore(open, async (store) => {
        const prefix = `wf${runToken()}`;
        const name = `ticks-${prefix}`;
        const checkpoints = await checkpointsFromHead(store, name);
        const handled: RecordedEvent[] = [];
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const runner = createProjectionRunner({
          store,
          checkpoints,
          projection: tickProjection(store, prefix, { handled, ids: 'none', before: () => gate }),
        });
        await runner.start();
        await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
        expect(await runner.lag()).toBe(0n);

        const { lastGlobalPosition } = await store.appendToStream(
          `${prefix}-src-a`,
          [{ id: randomUUID(), type: TICK, data: {} }],
          { expectedVersion: 'any' },
        );
        let reached = false;
        const waiting = runner.waitFor(lastGlobalPosition, { timeoutMs: 10_000 }).then(() => (reached = true));
        // The handler is held at the gate: the event is not handled yet, so the wait is still open.
        await eventually(() => handled.length === 1, 'event handed over');
        expect(reached).toBe(false);
        expect(runner.position).toBeLessThan(lastGlobalPosition);
        const headBefore = await store.headPosition();
        const lag = await runner.lag();
        const headAfter = await store.headPosition();
        expect(lag).toBeGreaterThanOrEqual(headBefore - runner.position);
        expect(lag).toBeLessThanOrEqual(headAfter - runner.position);
        expect(lag).toBeGreaterThan(0n);

        release();
        await waiting;
        expect(reached).toBe(true);
        expect(runner.position).toBeGreaterThanOrEqual(lastGlobalPosition);
        await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
        expect(runner.position).toBeGreaterThanOrEqual(headAfter);
        await runner.stop();

        // Stopped: the log moves on, the lag shows it, and a wait for it runs out.
        await appendTicks(store, `${prefix}-src-a`, 3);
        expect(await runner.lag()).toBeGreaterThanOrEqual(3n);
        const head = await store.headPosition();
        const timeout = await runner.waitFor(head, { timeoutMs: 20 }).catch((e: unknown) => e);
        expect(timeout).toBeInstanceOf(ProjectionTimeoutError);
        expect(timeout).toMatchObject({ projection: name, position: head, timeoutMs: 20 });
      }));

    it('retries a poison event with backoff, then stops naming its stream, version and position; never checkpoints past it; resumes at it once fixed', () =>
      withStore(open, async (store) => {
        const prefix = `px${runToken()}`;
        const name = `ticks-${prefix}`;
        const start = await store.headPosition();
        const base = await checkpointsFromHead(store, name);
        const writes: CheckpointWrite[] = [];
        const checkpoints = recordingCheckpoints(base, writes);
        await appendTicks(store, `${prefix}-src-a`, 3);
        await appendTicks(store, `${prefix}-src-b`, 2);
        await appendTicks(store, `${prefix}-src-a`, 2);
        const ticks = await ticksOf(store, prefix, start);
        const poison = ticks[3]!; // src-b, version 0
        let broken = true;
        const handled: RecordedEvent[] = [];
        const failures: ProjectionFailedError[] = [];
        const projection = tickProjection(store, prefix, {
          handled,
          before: (event) => {
            if (broken && event.id === poison.id) throw new Error('cannot parse this one');
          },
        });
        const runner = createProjectionRunner({
          store,
          checkpoints,
          projection,
          checkpointEvery: 1,
          retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 },
          onFailure: (error) => failures.push(error),
        });
        await runner.start();
        const error = await runner.waitFor(ticks[6]!.globalPosition, { timeoutMs: 10_000 }).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(ProjectionFailedError);
        const failed = error as ProjectionFailedError;
        expect(failed.projection).toBe(name);
        expect(failed.event).toEqual({ stream: poison.streamName, version: poison.streamVersion, position: poison.globalPosition, type: TICK });
        expect(failed.attempts).toBe(4);
        expect((failed.cause as Error).message).toBe('cannot parse this one');
        expect(failed.message).toContain(poison.streamName);
        expect(failures).toEqual([failed]);
        expect(runner.status().state).toBe('stopped-on-poison');
        expect(runner.failure).toBe(failed);
        expect(handled.filter((e) => e.id === poison.id)).toHaveLength(4);
        expect(handled.some((e) => e.globalPosition > poison.globalPosition)).toBe(false);
        // The checkpoint holds everything before the poison event, and nothing from it on.
        expect(await base.read(name)).toBe(ticks[2]!.globalPosition);
        expect(writes.filter((w) => w.outcome === 'stored').every((w) => w.position < poison.globalPosition)).toBe(true);
        expect(await effectsOf(store, prefix)).toEqual(ids(ticks.slice(0, 3)));
        // A waiter arriving later learns of the failure too.
        await expect(runner.waitFor(poison.globalPosition)).rejects.toBe(failed);

        // Fixed and restarted: it resumes exactly at the poison event.
        broken = false;
        handled.length = 0;
        await runner.start();
        await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
        await runner.stop();
        expect(ids(handled)).toEqual(ids(ticks.slice(3)));
        expect(await effectsOf(store, prefix)).toEqual(ids(ticks));
        expect(checkpointChainIssues(writes, start)).toEqual([]);
      }));

    describe('two copies of one projection at once', () => {
      it('the copy whose checkpoint was moved gets a conflict, re-reads it and carries on; the effect is written once', () =>
        withStore(open, async (store) => {
          const prefix = `tc${runToken()}`;
          const name = `ticks-${prefix}`;
          const start = await store.headPosition();
          const base = await checkpointsFromHead(store, name);
          const writes: CheckpointWrite[] = [];
          await appendTicks(store, `${prefix}-src-a`, 6);
          const ticks = await ticksOf(store, prefix, start);
          const handledA: RecordedEvent[] = [];
          const handledB: RecordedEvent[] = [];
          const a = createProjectionRunner({
            store,
            checkpoints: recordingCheckpoints(base, writes, { by: 'a' }),
            projection: tickProjection(store, prefix, { handled: handledA }),
            checkpointEvery: 1,
          });
          // B handles the first event, then its checkpoint write waits until A has done everything.
          let aDone!: () => void;
          const aFinished = new Promise<void>((resolve) => (aDone = resolve));
          let held = false;
          const b = createProjectionRunner({
            store,
            checkpoints: recordingCheckpoints(base, writes, {
              by: 'b',
              before: async () => {
                if (!held) {
                  held = true;
                  await aFinished;
                }
              },
            }),
            projection: tickProjection(store, prefix, { handled: handledB }),
            checkpointEvery: 1,
          });
          await b.start();
          await eventually(() => held, 'B holds its first checkpoint write');
          await a.start();
          await a.waitUntilCaughtUp({ timeoutMs: 10_000 });
          aDone();
          await b.waitUntilCaughtUp({ timeoutMs: 10_000 });

          const bWrites = writes.filter((w) => w.by === 'b');
          expect(bWrites[0]).toMatchObject({ outcome: 'conflict', position: ticks[0]!.globalPosition, expected: start });
          expect(['running', 'catching-up']).toContain(b.status().state);
          // B re-read A's checkpoint and did not redo what A did.
          expect(ids(handledB)).toEqual([ticks[0]!.id]);
          expect(ids(handledA)).toEqual(ids(ticks));
          expect(b.position).toBeGreaterThanOrEqual(ticks[ticks.length - 1]!.globalPosition);
          await a.stop();
          await b.stop();
          expect(checkpointChainIssues(writes, start)).toEqual([]);
          // B wrote the effect of the first event too: the deterministic id made it land once.
          expect(await effectsOf(store, prefix)).toEqual(ids(ticks));
        }));

      it('a copy that loses two checkpoint races at once restarts once, and once stopped handles nothing more', () =>
        withStore(open, async (store) => {
          const prefix = `dr${runToken()}`;
          const name = `ticks-${prefix}`;
          const base = await checkpointsFromHead(store, name);
          const start = (await base.read(name))!;
          let gate: Promise<void> | undefined;
          let release!: () => void;
          let held = false;
          const checkpoints = recordingCheckpoints(base, [], {
            before: async () => {
              if (gate) {
                held = true;
                await gate;
                gate = undefined;
              }
            },
          });
          const handled: RecordedEvent[] = [];
          const runner = createProjectionRunner({
            store,
            checkpoints,
            projection: tickProjection(store, prefix, { handled, ids: 'none' }),
            checkpointEvery: 2,
          });
          await runner.start();
          await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });

          // The caught-up checkpoint write after e1 is held; meanwhile another copy moves the
          // checkpoint, and e2 arrives: both of this copy's writes (caught up, every 2nd event) conflict.
          gate = new Promise<void>((resolve) => (release = resolve));
          await appendTicks(store, `${prefix}-src-a`, 1);
          await eventually(() => held, 'caught-up checkpoint write held');
          const [e1] = await ticksOf(store, prefix, start);
          await base.store(name, e1!.globalPosition, start);
          await appendTicks(store, `${prefix}-src-a`, 1);
          release();
          await eventually(async () => runner.position >= (await store.headPosition()), 'caught up after the conflicts');
          await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
          expect(['running', 'catching-up']).toContain(runner.status().state);
          await runner.stop();
          expect(runner.status().state).toBe('stopped');

          const before = handled.length;
          await appendTicks(store, `${prefix}-src-a`, 2);
          await new Promise((resolve) => setTimeout(resolve, 20));
          expect(handled.length).toBe(before);
        }));

      it('property: 2-3 copies sharing a checkpoint never both advance it, and each effect lands exactly once, in log order', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.scheduler(),
            fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 3 }),
            fc.integer({ min: 0, max: 12 }),
            fc.array(fc.record({ stream: fc.constantFrom('a', 'b', 'c'), count: fc.integer({ min: 1, max: 4 }) }), { maxLength: 5 }),
            fc.option(fc.nat(), { nil: undefined }),
            async (s, everies, backlog, live, restartWho) =>
              withScheduledStore(open, s, async (inner) => {
                const prefix = `pc${runToken()}`;
                const name = `ticks-${prefix}`;
                const start = await inner.headPosition();
                const base = await checkpointsFromHead(inner, name);
                const writes: CheckpointWrite[] = [];
                const store = scheduledStore(inner, s);
                await appendTicks(inner, `${prefix}-src-a`, backlog);
                const handled: RecordedEvent[] = [];
                const copies: ProjectionRunner[] = everies.map((every, i) =>
                  createProjectionRunner({
                    store,
                    checkpoints: recordingCheckpoints(base, writes, {
                      by: String(i),
                      before: () => s.schedule(Promise.resolve(), `checkpoint ${i}`),
                    }),
                    projection: tickProjection(store, prefix, { handled }),
                    checkpointEvery: every,
                  }),
                );
                const work = (async () => {
                  await Promise.all(copies.map((c) => c.start()));
                  const tasks: Promise<unknown>[] = live.map(({ stream, count }, i) =>
                    s.schedule(Promise.resolve(), `live ${i}`).then(() => appendTicks(inner, `${prefix}-src-${stream}`, count)),
                  );
                  if (restartWho !== undefined) {
                    const copy = copies[restartWho % copies.length]!;
                    tasks.push(s.schedule(Promise.resolve(), 'restart').then(async () => {
                      await copy.stop();
                      await copy.start();
                    }));
                  }
                  await Promise.all(tasks);
                  const head = await inner.headPosition();
                  await Promise.all(copies.map((c) => c.waitFor(head, { timeoutMs: 30_000 })));
                  for (const c of copies) await c.stop();
                })();
                await drive(s, work);

                const ticks = await ticksOf(inner, prefix, start);
                expect(await effectsOf(inner, prefix)).toEqual(ids(ticks));
                expect(checkpointChainIssues(writes, start)).toEqual([]);
                expect(copies.every((c) => c.status().state === 'stopped')).toBe(true);
                const last = ticks[ticks.length - 1];
                if (last) expect(await base.read(name)).toBeGreaterThanOrEqual(last.globalPosition);

                // Stopped copies stay stopped.
                const before = handled.length;
                await appendTicks(inner, `${prefix}-src-a`, 1);
                await new Promise((resolve) => setTimeout(resolve, 10));
                expect(handled.length).toBe(before);
              }),
          ),
          { numRuns: 40 },
        );
      });

      it('transactional checkpoints: two copies apply each event to a non-idempotent output exactly once', async () => {
        await withStore(open, async (store) => {
          const prefix = `tt${runToken()}`;
          const name = `tx-${prefix}`;
          const start = await store.headPosition();
          const checkpoints = new TransactionalCheckpoints();
          await checkpoints.store(name, start, null);
          // Let the two copies' transactions interleave: each waits a turn before its commit check.
          checkpoints.beforeCommit = () => new Promise((resolve) => setImmediate(resolve));
          await appendTicks(store, `${prefix}-src-a`, 8);
          const handled: RecordedEvent[] = [];
          const copies = [0, 1].map(() =>
            createProjectionRunner({ store, checkpoints, projection: transactionalProjection(prefix, name, handled) }),
          );
          await Promise.all(copies.map((c) => c.start()));
          await appendTicks(store, `${prefix}-src-b`, 5);
          for (const c of copies) await c.waitUntilCaughtUp({ timeoutMs: 10_000 });
          for (const c of copies) await c.stop();
          const ticks = await ticksOf(store, prefix, start);
          expect(checkpoints.output).toEqual(ids(ticks));
          // Both copies did handle some events; the losing transactions were rolled back.
          expect(handled.length).toBeGreaterThan(ticks.length);
          expect(checkpoints.conflicts).toBeGreaterThan(0);
          expect(copies.map((c) => c.status().state)).toEqual(['stopped', 'stopped']);
        });
      });
    });

    describe('exactly-once effects across a crash between output and checkpoint', () => {
      /** Writes ticks, runs a projection that crashes after writing the third effect, restarts it. */
      async function crashAndRestart(
        store: EventStore,
        idKind: 'deterministic' | 'random',
        how: 'checkpoint-store' | 'handler',
      ): Promise<{ ticks: RecordedEvent[]; effects: string[]; handled: RecordedEvent[]; checkpointAtCrash: bigint | null; effectsAtCrash: string[] }> {
        const prefix = `cr${runToken()}`;
        const name = `ticks-${prefix}`;
        const start = await store.headPosition();
        const base = await checkpointsFromHead(store, name);
        await appendTicks(store, `${prefix}-src-a`, 5);
        const ticks = await ticksOf(store, prefix, start);
        const victim = ticks[2]!;
        let crashed = false;
        // Once the process is "killed", its checkpoint writes fail until a new process takes over.
        let dead = false;
        const handled: RecordedEvent[] = [];
        const crash = () => {
          crashed = true;
          dead = true;
          throw new Error('process killed');
        };
        const checkpoints = recordingCheckpoints(base, [], {
          before: ({ position }) => {
            if (how === 'checkpoint-store' && (dead || (!crashed && position === victim.globalPosition))) crash();
          },
        });
        const dying = createProjectionRunner({
          store,
          checkpoints,
          checkpointEvery: 1,
          retry: { maxAttempts: 1 },
          projection: tickProjection(store, prefix, {
            ids: idKind,
            handled,
            after: (event) => {
              if (how === 'handler' && !crashed && event.id === victim.id) crash();
            },
          }),
        });
        await dying.start();
        if (how === 'handler') {
          await eventually(() => dying.status().state === 'stopped-on-poison', 'the runner dies');
        } else {
          // A failed checkpoint write blames no event: the runner retries it until it is stopped.
          await eventually(() => crashed && dying.status().state === 'retrying', 'the checkpoint write to fail');
          await dying.stop();
          expect(dying.failure).toBeUndefined();
        }
        dead = false;
        const checkpointAtCrash = await base.read(name);
        const effectsAtCrash = await effectsOf(store, prefix);

        // A new process: a fresh runner and projection over the same checkpoints.
        const revived = createProjectionRunner({
          store,
          checkpoints,
          checkpointEvery: 1,
          projection: tickProjection(store, prefix, { ids: idKind, handled }),
        });
        await revived.start();
        await revived.waitUntilCaughtUp({ timeoutMs: 10_000 });
        await revived.stop();
        return { ticks, effects: await effectsOf(store, prefix), handled, checkpointAtCrash, effectsAtCrash };
      }

      for (const how of ['checkpoint-store', 'handler'] as const) {
        const when = how === 'handler' ? 'in the handler right after writing' : 'while storing the checkpoint';
        it(`deterministic ids: killed ${when}, restarted, each effect is there once`, () =>
          withStore(open, async (store) => {
            const r = await crashAndRestart(store, 'deterministic', how);
            const victim = r.ticks[2]!;
            // At the crash the third effect was written and the checkpoint was not.
            expect(r.effectsAtCrash).toEqual(ids(r.ticks.slice(0, 3)));
            expect(r.checkpointAtCrash).toBe(r.ticks[1]!.globalPosition);
            // The restarted runner handed the third event over again, and the store absorbed it.
            expect(r.handled.filter((e) => e.id === victim.id)).toHaveLength(2);
            expect(r.effects).toEqual(ids(r.ticks));
          }));
      }

      it('control: with random ids the same crash writes an effect twice (so the test above is a real test)', () =>
        withStore(open, async (store) => {
          const r = await crashAndRestart(store, 'random', 'checkpoint-store');
          expect(r.effects).toHaveLength(6);
          expect(r.effects.filter((id) => id === r.ticks[2]!.id)).toHaveLength(2);
        }));

      it('transactional: a crash inside the transaction leaves neither output nor checkpoint; the restart applies it once', () =>
        withStore(open, async (store) => {
          const prefix = `tx${runToken()}`;
          const name = `tx-${prefix}`;
          const start = await store.headPosition();
          const checkpoints = new TransactionalCheckpoints();
          await checkpoints.store(name, start, null);
          await appendTicks(store, `${prefix}-src-a`, 5);
          const ticks = await ticksOf(store, prefix, start);
          const victim = ticks[2]!;
          // Any transaction that would commit the victim crashes: a batch holding it, then the victim alone.
          checkpoints.crashBeforeCommit = (position) => position >= victim.globalPosition;
          const handled: RecordedEvent[] = [];
          const dying = createProjectionRunner({
            store,
            checkpoints,
            retry: { maxAttempts: 1 },
            backoff: { baseDelayMs: 1, maxDelayMs: 5 },
            projection: transactionalProjection(prefix, name, handled),
          });
          await dying.start();
          // The commit keeps failing: not the event's fault, so the runner retries until stopped.
          await eventually(() => dying.status().state === 'retrying' && dying.status().consecutiveFailures >= 3, 'commits to fail');
          await dying.stop();
          expect(dying.failure).toBeUndefined();
          expect(dying.status().lastError?.message).toMatch(/crashed before committing/);
          expect(handled.map((e) => e.id)).toContain(victim.id);
          // Neither output nor checkpoint of any failed commit: both stop at the same event before the victim.
          const committed = checkpoints.output.length;
          expect(committed).toBeLessThan(3);
          expect(checkpoints.output).toEqual(ids(ticks.slice(0, committed)));
          expect(await checkpoints.read(name)).toBe(committed === 0 ? start : ticks[committed - 1]!.globalPosition);

          checkpoints.crashBeforeCommit = () => false;
          const revived = createProjectionRunner({ store, checkpoints, projection: transactionalProjection(prefix, name, handled) });
          await revived.start();
          await revived.waitUntilCaughtUp({ timeoutMs: 10_000 });
          await revived.stop();
          // Handed over more than once (in its batch, alone, after the restart), yet written once.
          expect(handled.filter((e) => e.id === victim.id).length).toBeGreaterThanOrEqual(2);
          expect(checkpoints.output).toEqual(ids(ticks));
        }));

      it('transactional: a handler that fails after staging output is rolled back and its retry applies once', () =>
        withStore(open, async (store) => {
          const prefix = `tr${runToken()}`;
          const name = `tx-${prefix}`;
          const start = await store.headPosition();
          const checkpoints = new TransactionalCheckpoints();
          await checkpoints.store(name, start, null);
          await appendTicks(store, `${prefix}-src-a`, 4);
          const ticks = await ticksOf(store, prefix, start);
          let failures = 2;
          const handled: RecordedEvent[] = [];
          const runner = createProjectionRunner({
            store,
            checkpoints,
            retry: { maxAttempts: 3, baseDelayMs: 1 },
            projection: transactionalProjection(prefix, name, handled, (e) => e.id === ticks[1]!.id && failures-- > 0),
          });
          await runner.start();
          await runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
          await runner.stop();
          expect(handled.filter((e) => e.id === ticks[1]!.id)).toHaveLength(3);
          expect(checkpoints.output).toEqual(ids(ticks));
        }));
    });
  });
}
