import { isCheckpointConflictError, isProjectionFailedError, OrdoError } from '../errors.js';
import type { RecordedEvent } from '../events.js';
import { START, type EventStore, type Subscription } from '../store/event-store.js';
import { sleep } from '../store/subscription-loop.js';
import type { CheckpointStore } from './checkpoints.js';

/** What a projection's code gets with each event. */
export interface ProjectionContext<Tx = unknown> {
  /**
   * The transaction the checkpoint will be stored in, when the checkpoint store has one
   * (PostgreSQL: a `pg` client inside BEGIN). Write read models through it and they commit
   * together with the checkpoint: exactly once, without deterministic-id tricks.
   */
  tx: Tx;
}

/**
 * A projection: a name (its checkpoint's key), which events it reads, and what it does with each.
 *
 * Without a transactional checkpoint store, an event can be handed over again after a crash that
 * came between its effect and the checkpoint: make effects idempotent, e.g. by appending events
 * with ids derived from the cause (`eventIdFor`), which the store absorbs when repeated.
 */
export interface Projection<Tx = unknown> {
  name: string;
  /** Only events of these types (default: all). */
  eventTypes?: readonly string[];
  /** Only events of streams with these prefixes (default: all). */
  streamPrefixes?: readonly string[];
  /** Applies one event. Give this, or `handleBatch`. */
  handle?(event: RecordedEvent, context: ProjectionContext<Tx>): Promise<void> | void;
  /**
   * Applies several events at once, in log order: for projections that can do a batch in fewer
   * round trips (one append or one SQL statement for the whole batch). If a batch keeps failing, the
   * runner hands events over one at a time to find the one that fails.
   */
  handleBatch?(events: readonly RecordedEvent[], context: ProjectionContext<Tx>): Promise<void>;
}

/** A projection stopped on an event it could not handle. Restarting resumes at that event. */
export class ProjectionFailedError extends OrdoError {
  static override readonly code = 'projection_failed';
  override name = 'ProjectionFailedError';
  constructor(
    readonly projection: string,
    readonly event: { stream: string; version: bigint; position: bigint; type: string },
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(
      `Projection "${projection}" stopped after ${attempts} attempts at ${event.type} ` +
        `(stream "${event.stream}", version ${event.version}, position ${event.position}): ${describe(cause)}`,
    );
  }
}

/** A wait for a projection ran out of time. */
export class ProjectionTimeoutError extends OrdoError {
  static override readonly code = 'projection_timeout';
  override name = 'ProjectionTimeoutError';
  constructor(
    readonly projection: string,
    readonly position: bigint,
    readonly timeoutMs: number,
  ) {
    super(`Projection "${projection}" did not reach position ${position} within ${timeoutMs} ms`);
  }
}

/** What {@link createProjectionRunner} runs: one projection over a store's global log, with its checkpoints. */
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
  /** Retries of a failing event before the projection stops. Default 5 attempts, backoff 50 ms doubling to 2 s. */
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Called when the projection stops on a poison event. */
  onFailure?(error: ProjectionFailedError): void;
}

/** Runs one projection: catch-up from its checkpoint, then live. */
export interface ProjectionRunner {
  readonly name: string;
  /** Starts reading (no-op when running). Resolves once the checkpoint is read and delivery begun. */
  start(): Promise<void>;
  /** Stops after the event in hand, storing the checkpoint of what was done. */
  stop(): Promise<void>;
  /** Resolves once every event up to `position` has been handled. Rejects if the projection fails or times out. */
  waitFor(position: bigint, options?: { timeoutMs?: number }): Promise<void>;
  /** Waits until the projection has handled the log as it is now. */
  waitUntilCaughtUp(options?: { timeoutMs?: number }): Promise<void>;
  /** How far behind the log head the projection is, in global positions (for monitoring). */
  lag(): Promise<bigint>;
  /** Position of the last event handled (or skipped by the filter). */
  readonly position: bigint;
  readonly status: 'stopped' | 'running' | 'failed';
  /** Why it stopped, when `status` is `failed`. */
  readonly failure: ProjectionFailedError | undefined;
}

/**
 * Creates a runner. Events reach the projection in log order, in batches of up to `checkpointEvery`
 * (one at a time through `handle`, or together through `handleBatch`). The checkpoint is written
 * with compare-and-set: if another copy of the projection moved it, this copy re-reads it and
 * carries on from there, so the two never both advance it.
 */
export function createProjectionRunner<Tx = unknown>(options: ProjectionRunnerOptions<Tx>): ProjectionRunner {
  const { store, checkpoints, projection } = options;
  const checkpointEvery = options.checkpointEvery ?? 500;
  const retry = { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 2000, ...options.retry };

  let status: ProjectionRunner['status'] = 'stopped';
  let failure: ProjectionFailedError | undefined;
  let subscription: Subscription | undefined;
  /** The checkpoint as stored (compare-and-set expects it). */
  let stored: bigint | null = null;
  /** Everything up to here has been handled. */
  let position: bigint = START;
  /** Serialises event handling and checkpoint writes. */
  let queue: Promise<void> = Promise.resolve();
  let waiters: { position: bigint; resolve: () => void; reject: (e: Error) => void }[] = [];
  let stopping = false;

  const transactional = typeof checkpoints.transaction === 'function';
  if (!projection.handle && !projection.handleBatch) {
    throw new TypeError(`Projection "${projection.name}" needs a handle or a handleBatch function`);
  }

  function settleWaiters() {
    waiters = waiters.filter((w) => {
      if (position >= w.position) w.resolve();
      else if (failure) w.reject(failure);
      else return true;
      return false;
    });
  }

  async function saveCheckpoint(to: bigint) {
    if (stored !== null && to <= stored) return;
    await checkpoints.store(projection.name, to, stored);
    stored = to;
  }

  /** Hands `events` to the projection, inside one checkpoint transaction when the store has them. */
  async function apply(events: readonly RecordedEvent[]) {
    const last = events[events.length - 1]!.globalPosition;
    const work = async (tx: Tx) => {
      if (projection.handleBatch) await projection.handleBatch(events, { tx });
      else for (const event of events) await projection.handle!(event, { tx });
    };
    if (transactional) {
      await checkpoints.transaction!(projection.name, last, stored, work);
      stored = last;
    } else {
      await work(undefined as Tx);
    }
  }

  /** Runs `work` with backoff; a checkpoint conflict or a stop ends it at once. */
  async function withRetry(work: () => Promise<void>): Promise<{ ok: true } | { ok: false; error: unknown; attempts: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        await work();
        return { ok: true };
      } catch (error) {
        if (isCheckpointConflictError(error) || stopping) throw error;
        if (attempt >= retry.maxAttempts) return { ok: false, error, attempts: attempt };
        await sleep(Math.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1)));
      }
    }
  }

  function poisoned(event: RecordedEvent, attempts: number, error: unknown) {
    return new ProjectionFailedError(
      projection.name,
      { stream: event.streamName, version: event.streamVersion, position: event.globalPosition, type: event.type },
      attempts,
      error,
    );
  }

  /**
   * Handles a batch as a whole; if it keeps failing, one event at a time, so the event that fails
   * is found and named, and everything before it counts as done.
   */
  async function handleBatch(batch: readonly RecordedEvent[]) {
    const whole = await withRetry(() => apply(batch));
    if (whole.ok) {
      position = batch[batch.length - 1]!.globalPosition;
      return;
    }
    if (batch.length === 1) throw poisoned(batch[0]!, whole.attempts, whole.error);
    for (const event of batch) {
      const one = await withRetry(() => apply([event]));
      if (!one.ok) throw poisoned(event, one.attempts, one.error);
      position = event.globalPosition;
    }
  }

  function enqueue(work: () => Promise<void>): Promise<void> {
    const next = queue.then(work);
    queue = next.catch(() => undefined);
    return next;
  }

  /** Events delivered and not yet handled; handed over together, then checkpointed. */
  let buffer: RecordedEvent[] = [];
  let lastBuffered: bigint = START;

  async function flush() {
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    try {
      await handleBatch(batch);
    } catch (error) {
      // Keep what was done before the poison event, so a restart resumes exactly at it.
      if (isProjectionFailedError(error) && !transactional) await saveCheckpoint(position).catch(() => undefined);
      throw error;
    }
    if (!transactional) await saveCheckpoint(position);
    settleWaiters();
  }

  async function onEvent(event: RecordedEvent) {
    await enqueue(async () => {
      if (failure) return; // stopped on a poison event: nothing after it may count as handled
      if (event.globalPosition <= lastBuffered) return; // already handled before a re-read
      buffer.push(event);
      lastBuffered = event.globalPosition;
      if (buffer.length >= checkpointEvery) await flush();
    });
  }

  function onCaughtUp(at: bigint) {
    void enqueue(async () => {
      if (failure) return; // a caught-up report queued before the failure must not move the checkpoint past it
      await flush();
      if (at > position) position = at; // events the filter skipped count as handled
      await saveCheckpoint(position);
      settleWaiters();
    }).catch(onSubscriptionError);
  }

  function onSubscriptionError(error: unknown) {
    if (stopping) return;
    if (isCheckpointConflictError(error)) {
      // Another copy moved the checkpoint: start again from where it got to.
      void restart();
      return;
    }
    status = 'failed';
    failure =
      isProjectionFailedError(error)
        ? error
        : new ProjectionFailedError(projection.name, { stream: '', version: -1n, position, type: '(read)' }, 1, error);
    void subscription?.stop();
    subscription = undefined;
    settleWaiters();
    options.onFailure?.(failure);
  }

  async function subscribe() {
    const read = await checkpoints.read(projection.name);
    if (status !== 'running' || stopping) return; // stopped meanwhile: do not leave a subscription behind
    stored = read;
    position = stored ?? START;
    lastBuffered = position;
    buffer = [];
    subscription = store.subscribeToAll({
      after: position,
      filter: {
        ...(projection.eventTypes && { eventTypes: projection.eventTypes }),
        ...(projection.streamPrefixes && { streamPrefixes: projection.streamPrefixes }),
      },
      onEvent,
      onCaughtUp,
      onError: onSubscriptionError,
    });
  }

  /** The restart in progress: conflicts reported while one runs join it rather than subscribing twice. */
  let restarting: Promise<void> | undefined;

  function restart(): Promise<void> {
    restarting ??= (async () => {
      const old = subscription;
      subscription = undefined;
      await old?.stop();
      await queue;
      if (status !== 'running' || stopping) return;
      await subscribe();
    })()
      .catch(onSubscriptionError)
      .finally(() => {
        restarting = undefined;
      });
    return restarting;
  }

  return {
    name: projection.name,
    get position() {
      return position;
    },
    get status() {
      return status;
    },
    get failure() {
      return failure;
    },
    async start() {
      if (status === 'running') return;
      status = 'running';
      failure = undefined;
      stopping = false;
      await subscribe();
    },
    async stop() {
      if (status !== 'running') return;
      stopping = true;
      await restarting;
      await subscription?.stop();
      subscription = undefined;
      await queue;
      if (!transactional && status === 'running') await saveCheckpoint(position).catch(() => undefined);
      status = 'stopped';
      stopping = false;
    },
    waitFor(target, { timeoutMs = 30_000 } = {}) {
      if (position >= target) return Promise.resolve();
      if (failure) return Promise.reject(failure);
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          reject(new ProjectionTimeoutError(projection.name, target, timeoutMs));
        }, timeoutMs);
        const waiter = {
          position: target,
          resolve: () => (clearTimeout(timer), resolve()),
          reject: (e: Error) => (clearTimeout(timer), reject(e)),
        };
        waiters.push(waiter);
      });
    },
    async waitUntilCaughtUp(opts) {
      await this.waitFor(await store.headPosition(), opts);
    },
    async lag() {
      const head = await store.headPosition();
      return head > position ? head - position : 0n;
    },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
