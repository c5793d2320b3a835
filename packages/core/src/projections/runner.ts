import { whenAborted } from '../abort.js';
import type { RecordedEvent } from '../events.js';
import { isCheckpointConflictError, isProjectionFailedError } from '../errors.js';
import { START, type EventStore, type Subscription } from '../store/event-store.js';
import { sleep } from '../store/subscription-loop.js';
import { isTransient } from '../transient.js';
import { CheckpointConflictError, type CheckpointStore } from './checkpoints.js';
import type { HasStatus, ProjectionState, ProjectionStatus } from './health.js';
import { ProjectionFailedError, ProjectionTimeoutError, type Projection } from './projection.js';
import { batchHandling, type RunnerCursor } from './runner-batches.js';
import { LeaseKeeper, leaseSettings, type ProjectionLeaseOptions } from './runner-lease.js';
import { RunnerRecord } from './runner-status.js';
import { backoffDelay, DEFAULT_TRANSIENT_BACKOFF, StopRequested, type BackoffPolicy } from './supervision.js';

export * from './projection.js';
export { DEFAULT_LEASE_TTL_MS, type ProjectionLeaseOptions } from './runner-lease.js';

/** What {@link createProjectionRunner} runs: the projection, the log it reads and where its checkpoint lives. */
export interface ProjectionRunnerOptions<Tx = unknown> {
  store: EventStore;
  checkpoints: CheckpointStore<Tx>;
  projection: Projection<Tx>;
  /**
   * Events handed over together (to `handleBatch`, or inside one checkpoint transaction) before the
   * checkpoint is stored; a smaller batch goes whenever the runner has caught up. Default 500, one
   * page of the log: catching up costs one checkpoint commit per page.
   */
  checkpointEvery?: number;
  /**
   * Attempts at an event whose handler keeps failing with an error that is not transient, before
   * the projection stops on it as a poison event. Default 5 attempts, backoff 50 ms doubling to 2 s.
   */
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /**
   * Backoff for everything waited out for as long as it takes: transient errors (see
   * `isTransient`), failed reads of the log and failed checkpoint reads and writes. Default
   * 100 ms doubling to 30 s, jittered.
   */
  backoff?: Partial<BackoffPolicy>;
  /** Called when the projection stops on a poison event. */
  onFailure?(error: ProjectionFailedError): void;
  /**
   * One working copy across service instances: the runner works only while it holds the
   * projection's lease in the checkpoint store (which must have `acquireLease` and
   * `releaseLease`), renewing it every third of `ttlMs` (default 10 s). Other copies stand by
   * (state `standby`), try to take it at about that pace, and take over once the holder stops or
   * its lease runs out. A holder that cannot renew stops handling when its lease would run out.
   * The checkpoint's compare-and-set stays the safety net. Without it every copy works.
   */
  lease?: ProjectionLeaseOptions;
}

/** How long a wait for a projection may take: a timeout, and a signal that ends it sooner. */
export interface WaitOptions {
  /** Milliseconds before the wait rejects with a `ProjectionTimeoutError`. Default 30,000. */
  timeoutMs?: number;
  /** Ends the wait at once, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/** Runs one projection: catch-up from its checkpoint, then live, under supervision. */
export interface ProjectionRunner extends HasStatus {
  readonly name: string;
  /**
   * Starts reading (no-op when running). Resolves once the checkpoint is read and delivery begun,
   * or, when the checkpoint cannot be read for a transient reason, once retrying has begun.
   * @throws the checkpoint store's error when it is not transient (e.g. a bad projection name).
   */
  start(): Promise<void>;
  /** Stops after the event in hand, storing the checkpoint of what was done. Interrupts any backoff. */
  stop(): Promise<void>;
  /**
   * Resolves once every event up to `position` has been handled. Rejects if the projection fails,
   * after `timeoutMs` (default 30 s) with a `ProjectionTimeoutError`, or when `signal` aborts, with
   * the signal's reason. A copy standing by (see the `lease` option) reads the checkpoint every
   * quarter second or so while anyone waits, and resolves once the working copy has handled `position`.
   */
  waitFor(position: bigint, options?: WaitOptions): Promise<void>;
  /** Waits until the projection has handled the log as it is now (same options and errors as `waitFor`). */
  waitUntilCaughtUp(options?: WaitOptions): Promise<void>;
  /** How far behind the log head the projection is, in global positions (asks the store). */
  lag(): Promise<bigint>;
  /** Position of the last event handled (or skipped by the filter); standing by, the checkpoint as last read. */
  readonly position: bigint;
  /** State, position, lag, last error and failure streak, without I/O: for readiness probes (see `health`). */
  status(): ProjectionStatus;
  /** Why it stopped, when `status().state` is `stopped-on-poison`. */
  readonly failure: ProjectionFailedError | undefined;
}

/**
 * Creates a runner. Events reach the projection in log order, in batches of up to `checkpointEvery`
 * (one at a time through `handle`, or together through `handleBatch`). The checkpoint is written
 * with compare-and-set: if another copy of the projection moved it, this copy re-reads it and
 * carries on from there, so the two never both advance it.
 *
 * Supervision: a failed read of the log, a failed checkpoint read or write, and any transient
 * error are retried for as long as it takes, with capped, jittered backoff, resuming where the
 * runner got to; they never stop it and never blame an event. Only a handler that fails with
 * another error on the same event `retry.maxAttempts` times stops it, naming that event.
 */
export function createProjectionRunner<Tx = unknown>(options: ProjectionRunnerOptions<Tx>): ProjectionRunner {
  const { store, checkpoints, projection } = options;
  const checkpointEvery = options.checkpointEvery ?? 500;
  const retry = { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 2000, ...options.retry };
  const backoff: BackoffPolicy = { ...DEFAULT_TRANSIENT_BACKOFF, ...options.backoff };
  const transactional = typeof checkpoints.transaction === 'function' && projection.transactional !== false;
  if (!projection.handle && !projection.handleBatch) {
    throw new TypeError(`Projection "${projection.name}" needs a handle or a handleBatch function`);
  }
  const lease = options.lease === undefined ? undefined : leaseSettings(options.lease, checkpoints, projection.name);
  /** Holds the lease, with the `lease` option: the runner works only while `keeper.held`. */
  let keeper: LeaseKeeper | undefined;
  /** A stop on a poison event giving up the lease: a new start waits for it. */
  let leaseGivenUp: Promise<void> = Promise.resolve();

  let phase: 'stopped' | 'running' | 'failed' = 'stopped';
  let failure: ProjectionFailedError | undefined;
  let subscription: Subscription | undefined;
  /** The checkpoint as stored, and everything handled: shared with the batch handling. */
  const cursor: RunnerCursor = { stored: null, position: START };
  /** Serialises event handling and checkpoint writes. */
  let queue: Promise<void> = Promise.resolve();
  /** Work queued and not yet finished. */
  let pending = 0;
  let waiters: { position: bigint; resolve: () => void; reject: (e: Error) => void }[] = [];
  let stopping = false;
  /** Aborted by `stop()` (and on a poison stop): ends every backoff of this run at once. */
  let run = new AbortController();
  /** Events delivered and not yet handled; handed over together, then checkpointed. */
  let buffer: RecordedEvent[] = [];
  let lastBuffered: bigint = START;
  /** The batch being handled, for the lag in seconds. */
  let inHand: readonly RecordedEvent[] | undefined;
  /** A batch failed without being handled; later deliveries wait for the next subscription. */
  let derailed = false;
  /** The store is retrying failed reads by itself (it said so through `onReadRetry`). */
  let readsFailing = false;
  /** The restart in progress: failures reported while one runs join it rather than subscribing twice. */
  let restarting: Promise<void> | undefined;

  const record = new RunnerRecord((r): ProjectionState => {
    if (phase === 'failed') return 'stopped-on-poison';
    if (phase === 'stopped') return 'stopped';
    if (keeper && !keeper.held) return 'standby';
    if (r.consecutiveFailures > 0) return 'retrying';
    return r.caughtUp ? 'running' : 'catching-up';
  });
  const active = () => phase === 'running' && !stopping && (!keeper || keeper.held);

  function settleWaiters() {
    waiters = waiters.filter((w) => {
      if (cursor.position >= w.position) w.resolve();
      else if (failure) w.reject(failure);
      else return true;
      return false;
    });
  }

  /** Waits `ms`, or less when `stop()` comes; then ends the work in hand if it did. */
  async function pause(ms: number) {
    await sleep(ms, run.signal);
    if (!active()) throw new StopRequested();
  }

  const { persist, storeCheckpoint, handleBatch } = batchHandling({
    projection,
    checkpoints,
    transactional,
    retry,
    backoff,
    record,
    cursor,
    pause,
    active,
  });

  function enqueue(work: () => Promise<void>): Promise<void> {
    pending++;
    const next = queue.then(work).finally(() => pending--);
    queue = next.catch(() => undefined);
    return next;
  }

  async function flush() {
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    inHand = batch;
    try {
      await handleBatch(batch);
    } catch (error) {
      derailed = true;
      // Keep what was done before the poison event, so a restart resumes exactly at it.
      if (isProjectionFailedError(error) && !transactional) await storeCheckpoint(cursor.position).catch(() => undefined);
      throw error;
    } finally {
      inHand = undefined;
    }
    if (!transactional) await persist(() => storeCheckpoint(cursor.position));
    settleWaiters();
  }

  function onEvent(event: RecordedEvent): Promise<void> | undefined {
    record.saw(event.globalPosition);
    readGotThrough();
    // Nothing queued, and the event does not complete a batch: buffer it at once, without a promise
    // per event (the subscription then goes straight on to the next one). Anything else queues.
    if (pending === 0 && !failure && !derailed && active() && buffer.length + 1 < checkpointEvery) {
      if (event.globalPosition > lastBuffered) {
        buffer.push(event);
        lastBuffered = event.globalPosition;
      }
      return undefined;
    }
    return enqueue(async () => {
      if (failure || derailed || !active()) return; // a batch was left unhandled: nothing after it may count as handled
      if (event.globalPosition <= lastBuffered) return; // already handled before a re-read
      buffer.push(event);
      lastBuffered = event.globalPosition;
      if (buffer.length >= checkpointEvery) await flush();
    });
  }

  /** The store reported failed reads, and now one got through. */
  function readGotThrough() {
    if (!readsFailing) return;
    readsFailing = false;
    record.succeeded();
  }

  function onCaughtUp(at: bigint) {
    record.saw(at);
    readGotThrough();
    void enqueue(async () => {
      // A caught-up report queued behind a batch that failed (poison, a stop, a conflict) must not
      // move the checkpoint past that batch.
      if (failure || derailed || !active()) return;
      await flush();
      if (at > cursor.position) cursor.position = at; // events the filter skipped count as handled
      await persist(() => storeCheckpoint(cursor.position));
      record.caughtUp = true;
      record.touch();
      settleWaiters();
    }).catch(onSubscriptionError);
  }

  function stopOnPoison(error: ProjectionFailedError) {
    phase = 'failed';
    failure = error;
    run.abort();
    void subscription?.stop();
    subscription = undefined;
    // Another copy (say, of an older release during a rolling deploy) may get past this event.
    if (keeper) leaseGivenUp = keeper.stop().then(() => keeper!.release());
    record.touch();
    settleWaiters();
    options.onFailure?.(error);
  }

  function onSubscriptionError(error: unknown) {
    if (!active() || error instanceof StopRequested) return;
    if (isProjectionFailedError(error)) return stopOnPoison(error);
    if (isCheckpointConflictError(error)) {
      // Another copy moved the checkpoint: start again from where it got to.
      void restart({ reread: true, delay: false });
      return;
    }
    // Reading the log failed (or the subscription ended): no event is to blame. Resume after a pause.
    record.failed(error, true);
    void restart({ reread: false, delay: true });
  }

  function open() {
    derailed = false;
    readsFailing = false;
    lastBuffered = cursor.position;
    buffer = [];
    record.caughtUp = false;
    record.touch();
    subscription = store.subscribeToAll({
      after: cursor.position,
      filter: {
        ...(projection.eventTypes && { eventTypes: projection.eventTypes }),
        ...(projection.streamPrefixes && { streamPrefixes: projection.streamPrefixes }),
      },
      onEvent,
      onCaughtUp,
      onError: onSubscriptionError,
      // The store retries the read by itself; the status shows it until something succeeds again.
      onReadRetry: (error) => {
        if (!active()) return;
        readsFailing = true;
        record.failed(error, true);
      },
    });
  }

  async function readCheckpoint() {
    const read = await checkpoints.read(projection.name);
    cursor.stored = read;
    cursor.position = read ?? START;
  }

  /**
   * Drops the subscription and opens a new one, from the checkpoint (`reread`) or from where this
   * runner got to, after a backoff when `delay`. Failures on the way are retried the same way.
   */
  function restart(how: { reread: boolean; delay: boolean }): Promise<void> {
    restarting ??= (async () => {
      const old = subscription;
      subscription = undefined;
      await old?.stop();
      await queue;
      let { delay } = how;
      for (;;) {
        if (delay) await sleep(backoffDelay(record.consecutiveFailures, backoff), run.signal);
        if (!active()) return;
        try {
          if (how.reread) await readCheckpoint();
          if (!active()) return;
          open();
          return;
        } catch (error) {
          record.failed(error, true);
          delay = true;
        }
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        restarting = undefined;
      });
    return restarting;
  }

  /** Got the lease: handle from the checkpoint on. */
  async function takeOver() {
    record.caughtUp = false;
    record.touch();
    await restart({ reread: true, delay: false });
  }

  /** Lost the lease: stop handling at once (backoffs end now) and wait until nothing is in hand. */
  async function standBy() {
    run.abort();
    await restarting;
    const old = subscription;
    subscription = undefined;
    await old?.stop();
    await queue;
    buffer = [];
    record.caughtUp = false;
    if (!stopping) run = new AbortController(); // for the next term, and for stop() to end waits
    record.touch();
  }

  /** Standing by: another copy moved the checkpoint to `position`. */
  function followed(position: bigint | null) {
    if (active() || position === null || position <= cursor.position) return;
    cursor.position = position;
    record.touch();
    settleWaiters();
  }

  if (lease) {
    keeper = new LeaseKeeper({
      ...lease,
      checkpoints,
      name: projection.name,
      backoff,
      record,
      holder: { activate: takeOver, deactivate: standBy, followed, waiting: () => waiters.length > 0 },
    });
  }

  /** Starts with the lease option: resolves after the first attempt at the lease (and the activation, if it got it). */
  async function startLeased(leased: LeaseKeeper) {
    await leaseGivenUp;
    try {
      await leased.start();
    } catch (error) {
      phase = 'stopped';
      record.touch();
      throw error;
    }
  }

  return {
    name: projection.name,
    get position() {
      return cursor.position;
    },
    get failure() {
      return failure;
    },
    status() {
      const oldest = (inHand ?? buffer).find((e) => e.globalPosition > cursor.position)?.recordedAt;
      return record.snapshot(projection.name, cursor.position, oldest);
    },
    async start() {
      if (phase === 'running') return;
      phase = 'running';
      failure = undefined;
      stopping = false;
      run = new AbortController();
      record.reset();
      if (keeper) return startLeased(keeper);
      try {
        await readCheckpoint();
      } catch (error) {
        if (!isTransient(error)) {
          phase = 'stopped';
          record.touch();
          throw error;
        }
        record.failed(error, true);
        void restart({ reread: true, delay: true });
        return;
      }
      if (active()) open(); // not when stopped meanwhile: no subscription may be left behind
    },
    async stop() {
      if (phase !== 'running') return;
      stopping = true;
      run.abort();
      await keeper?.stop();
      await restarting;
      await subscription?.stop();
      subscription = undefined;
      await queue;
      const working = phase === 'running' && (!keeper || keeper.held);
      if (!transactional && working) await storeCheckpoint(cursor.position).catch(() => undefined);
      await keeper?.release(); // after the last checkpoint: the next holder starts from it
      phase = 'stopped';
      stopping = false;
      record.touch();
    },
    waitFor(target, { timeoutMs = 30_000, signal } = {}) {
      if (cursor.position >= target) return Promise.resolve();
      if (failure) return Promise.reject(failure);
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<void>((resolve, reject) => {
        const end = (settle: () => void) => {
          clearTimeout(timer);
          unlisten();
          waiters = waiters.filter((w) => w !== waiter);
          settle();
        };
        const timer = setTimeout(() => end(() => reject(new ProjectionTimeoutError(projection.name, target, timeoutMs))), timeoutMs);
        const unlisten = whenAborted(signal, (reason) => end(() => reject(reason)));
        const waiter = {
          position: target,
          resolve: () => end(resolve),
          reject: (e: Error) => end(() => reject(e)),
        };
        waiters.push(waiter);
        if (keeper && phase === 'running' && !keeper.held) void keeper.followWhileWaited();
      });
    },
    async waitUntilCaughtUp(opts) {
      opts?.signal?.throwIfAborted();
      await this.waitFor(await store.headPosition(), opts);
    },
    async lag() {
      const head = await store.headPosition();
      return head > cursor.position ? head - cursor.position : 0n;
    },
  };
}
