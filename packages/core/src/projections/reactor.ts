import type { RecordedEvent } from '../events.js';
import type { EventStore } from '../store/event-store.js';
import { type CheckpointStore, MemoryCheckpointStore } from './checkpoints.js';
import { LowWaterMarkCheckpoints } from './reactor-checkpoints.js';
import { ReactorItems, type PartitionCounts, type ReactorItem } from './reactor-items.js';
export type { PartitionCounts } from './reactor-items.js';
import { createProjectionRunner, ProjectionTimeoutError, type ProjectionRunner } from './runner.js';

/**
 * What one step of a reaction leaves behind: the key is `settled` (nothing more to do until a new
 * event names it), or it is due again at `dueAt` (at once when that is not in the future). The due
 * time comes from the key's own stream state, so a restarted reactor derives it again.
 */
export type ReactionStep = { settled: true } | { dueAt: Date };

/** Helps a reaction's step end early. */
export interface ReactionContext {
  /** Aborted when the reactor stops: give up waiting (for a provider, say) and record nothing. */
  signal: AbortSignal;
}

/**
 * A reaction: which events concern which key (usually a stream of its own), and one step of work
 * for a key. A step reads the key's state, performs at most the one effect its state calls for, and
 * records the outcome as events (with ids derived from the cause, so a repeated step is absorbed).
 */
export interface Reaction {
  /** Checkpoint key. */
  name: string;
  /** Only events of these types (default: all). */
  eventTypes?: readonly string[];
  /** Only events of streams with these prefixes (default: all). */
  streamPrefixes?: readonly string[];
  /** The key an event concerns and its partition (what it depends on: a channel, a provider), or `undefined`. */
  route(event: RecordedEvent): { key: string; partition: string } | undefined;
  /** One step for `key`. A step that throws is tried again later, with backoff, for ever. */
  react(key: string, context: ReactionContext): Promise<ReactionStep>;
}

/** Options of {@link createReactor}. */
export interface ReactorOptions {
  store: EventStore;
  reaction: Reaction;
  /** Where the low-water mark is kept. Default: in memory. */
  checkpoints?: CheckpointStore<unknown>;
  /** Steps running at once per partition. Default 8. */
  concurrency?: number | ((partition: string) => number);
  /** Backoff after a step throws: full jitter up to `min(maxDelayMs, baseDelayMs * 2^(failures-1))`. Defaults 50 ms and 30 s. */
  retry?: { baseDelayMs?: number; maxDelayMs?: number };
  /** The clock due times are compared with. */
  clock?: () => Date;
  random?: () => number;
  /** Told about every step that threw (it will be tried again). */
  onStepError?(error: unknown, key: string): void;
}

/** What a reactor is doing, for monitoring and readiness. */
export interface ReactorStatus {
  state: 'running' | 'stopped';
  /** Steps running now, by partition. */
  inFlight: Record<string, number>;
  /** Keys waiting for a free slot of their partition. */
  ready: number;
  /** Keys waiting for their due time (a retry, a timeout): they hold no slot. */
  due: number;
  /** In flight, ready and due per partition: every partition that has items or has run since the start. */
  partitions: Record<string, PartitionCounts>;
  /** The stored low-water mark. */
  checkpoint: bigint | null;
  /** The last step that threw, if any since the start. */
  lastError?: { key: string; message: string; at: string; failures: number };
}

/** Runs a reaction over the global log. */
export interface Reactor {
  readonly name: string;
  start(): Promise<void>;
  /** Stops reading, interrupts every wait and every step (through its signal), and stores the low-water mark. */
  stop(): Promise<void>;
  status(): ReactorStatus;
  /** Runs the step of `key` now, if the reactor has it in hand (e.g. something outside the log changed its state). */
  wake(key: string): void;
  /**
   * Resolves once the log as of now is read and no key is ready, running or (unless `includeDue` is
   * false) waiting for its due time.
   */
  waitUntilIdle(options?: { timeoutMs?: number; includeDue?: boolean }): Promise<void>;
  /** The projection runner that reads the log for it. */
  readonly runner: ProjectionRunner;
}

/**
 * Creates a reactor: a projection runner feeds it the keys events name; each key's steps run one at
 * a time, with at most `concurrency` steps per partition, so a slow or failing dependency holds up
 * only its own partition. A key waiting for its due time holds no slot. The checkpoint never passes
 * an unsettled key (a low-water mark), so after a restart every unfinished key is found again.
 */
export function createReactor(options: ReactorOptions): Reactor {
  const { store, reaction } = options;
  const clock = options.clock ?? (() => new Date());
  const random = options.random ?? Math.random;
  const baseDelayMs = options.retry?.baseDelayMs ?? 50;
  const maxDelayMs = options.retry?.maxDelayMs ?? 30_000;
  const concurrency = options.concurrency ?? 8;
  const slotsOf = typeof concurrency === 'number' ? () => concurrency : concurrency;

  let state: ReactorStatus['state'] = 'stopped';
  let abort = new AbortController();
  let lastError: ReactorStatus['lastError'];
  const steps = new Set<Promise<void>>();
  const idleWaiters = new IdleWaiters();
  const idle = (withDue: boolean) => {
    if (items.size === 0) return true;
    const { inFlight, ready } = items.counts();
    return !withDue && ready === 0 && Object.keys(inFlight).length === 0;
  };

  const items = new ReactorItems(slotsOf, (item) => {
    const step = runStep(item, abort.signal);
    steps.add(step);
    void step.finally(() => steps.delete(step));
  });
  const checkpoints = new LowWaterMarkCheckpoints(options.checkpoints ?? new MemoryCheckpointStore(), (runnerPosition) => {
    const lowest = items.lowestPosition();
    return lowest !== undefined && lowest - 1n < runnerPosition ? lowest - 1n : runnerPosition;
  });
  const runner = logReader(store, reaction, checkpoints, (route, position) => {
    if (state === 'running') items.touch(route.key, route.partition, position);
  });

  async function runStep(item: ReactorItem, signal: AbortSignal) {
    let next: { settled: true } | { dueAt: number };
    try {
      const step = await reaction.react(item.key, { signal });
      item.failures = 0;
      next = 'settled' in step ? { settled: true } : { dueAt: step.dueAt.getTime() };
    } catch (error) {
      item.failures++;
      lastError = { key: item.key, message: safeMessage(error), at: clock().toISOString(), failures: item.failures };
      options.onStepError?.(error, item.key);
      next = { dueAt: clock().getTime() + random() * Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(item.failures - 1, 30)) };
    }
    if (signal.aborted) return; // stopped: the item stays unsettled, below the checkpoint
    items.finished(item, next, clock().getTime());
    if ('settled' in next) void checkpoints.advance(reaction.name, runner.position).catch(() => undefined);
    idleWaiters.notify(idle);
  }

  return {
    name: reaction.name,
    runner,
    async start() {
      if (state === 'running') return;
      state = 'running';
      abort = new AbortController();
      await runner.start();
    },
    async stop() {
      if (state !== 'running') return;
      abort.abort();
      await runner.stop(); // its last checkpoint is clamped below the keys still in hand
      await Promise.all(steps);
      state = 'stopped';
      items.clear();
    },
    wake: (key) => items.wake(key),
    status() {
      return { state, ...items.counts(), checkpoint: checkpoints.position, ...(lastError && { lastError }) };
    },
    async waitUntilIdle({ timeoutMs = 30_000, includeDue = true } = {}) {
      const deadline = Date.now() + timeoutMs;
      const timedOut = () => new ProjectionTimeoutError(reaction.name, runner.position, timeoutMs);
      // A step's own appends reach the reactor through the log after the step ends: idle counts
      // only once the log did not move while the reactor caught up and ran out of work.
      for (;;) {
        const head = await store.headPosition();
        await runner.waitUntilCaughtUp({ timeoutMs: Math.max(1, deadline - Date.now()) });
        if (!idle(includeDue)) await idleWaiters.wait(includeDue, deadline - Date.now(), timedOut);
        if ((await store.headPosition()) === head) return;
        if (Date.now() >= deadline) throw timedOut();
      }
    },
  };
}

/** The projection runner that hands the reactor the key and partition of each event it reads. */
function logReader(
  store: EventStore,
  reaction: Reaction,
  checkpoints: LowWaterMarkCheckpoints,
  onRoute: (route: { key: string; partition: string }, position: bigint) => void,
): ProjectionRunner {
  return createProjectionRunner({
    store,
    checkpoints,
    projection: {
      name: reaction.name,
      ...(reaction.eventTypes && { eventTypes: reaction.eventTypes }),
      ...(reaction.streamPrefixes && { streamPrefixes: reaction.streamPrefixes }),
      handle(event) {
        const route = reaction.route(event);
        if (route) onRoute(route, event.globalPosition);
      },
    },
  });
}

/** Callers waiting for the reactor to be idle; `withDue`: keys waiting for their due time count as busy. */
class IdleWaiters {
  private waiters: { withDue: boolean; resolve: () => void }[] = [];

  /** Resolves the waiters for which `idle` now holds. */
  notify(idle: (withDue: boolean) => boolean): void {
    this.waiters = this.waiters.filter((w) => (idle(w.withDue) ? (w.resolve(), false) : true));
  }

  /** Waits for a `notify` that finds the reactor idle, or rejects with `timeout()` after `ms`. */
  wait(withDue: boolean, ms: number, timeout: () => Error): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(timeout());
      }, Math.max(0, ms));
      const waiter = { withDue, resolve: () => (clearTimeout(timer), resolve()) };
      this.waiters.push(waiter);
    });
  }
}

/** A description of any thrown value that itself never throws. */
function safeMessage(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return `a thrown ${typeof error} that cannot be described`;
  }
}
