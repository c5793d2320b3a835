import { v4 as uuidv4 } from 'uuid';
import {
  isCheckpointConflictError,
  isWrongExpectedVersionError,
  type CheckpointStore,
  type EventStore,
  MemoryCheckpointStore,
  type RecordedEvent,
  sleep,
  START,
  type Subscription,
} from '@ordo/core';
import { NOTIFICATION_STREAM_PREFIX, NotificationEvents, type NotificationRequest } from './notifications.js';

/** Delivers notifications. Provided by the service (an e-mail API, an SMS gateway). */
export interface Sender {
  /**
   * Sends one notification. Pass `idempotencyKey` to the provider as its idempotency key, so a send
   * repeated after a crash is dropped by the provider. Throw (or reject) to report a failure.
   */
  send(notification: NotificationRequest, options: { idempotencyKey: string; attempt: number }): Promise<unknown>;
}

/** What {@link createNotificationDispatcher} needs: the store, your {@link Sender}, and retry, lease and concurrency tuning. */
export interface NotificationDispatcherOptions {
  store: EventStore;
  sender: Sender;
  /** Where the dispatcher keeps its position. Default: in memory. */
  checkpoints?: CheckpointStore;
  /** Checkpoint key. Default `notification-dispatcher`. */
  name?: string;
  /** Attempts before a notification is dead-lettered. Default 5. */
  maxAttempts?: number;
  /** Backoff between attempts: full jitter up to `min(maxDelayMs, baseDelayMs * 2^(attempt-1))`. Defaults 1 s and 5 min. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A send that takes longer counts as failed. Default 10 s. */
  sendTimeoutMs?: number;
  /** How long a claimed attempt keeps other dispatchers off (must exceed `sendTimeoutMs`). Default 60 s. */
  leaseMs?: number;
  /** Notifications in flight at once. Default 16. */
  concurrency?: number;
  /** Clock. */
  now?: () => Date;
  random?: () => number;
}

/** Counts since the dispatcher started. */
export interface DispatcherStats {
  sent: number;
  failedAttempts: number;
  deadLettered: number;
  inFlight: number;
}

/** Delivers requested notifications through a {@link Sender}, recording every attempt in the notification's stream. */
export interface NotificationDispatcher {
  start(): Promise<void>;
  /** Stops taking new work and waits for sends in progress to be recorded. */
  stop(): Promise<void>;
  /** Resolves when everything requested so far (as of the call) is sent or dead-lettered. */
  waitUntilIdle(options?: { timeoutMs?: number }): Promise<void>;
  readonly stats: DispatcherStats;
}

/** A notification's delivery state, folded from its stream. */
export interface NotificationState {
  request?: NotificationRequest;
  version: bigint | null;
  attempts: number;
  settled: 'sent' | 'dead-lettered' | undefined;
  /** An attempt claimed and not yet reported. */
  claim?: { attempt: number; leaseUntil: string };
  retryAt?: string;
  lastError?: string;
}

/** Folds a notification stream (pure). */
export function foldNotification(events: readonly Pick<RecordedEvent, 'type' | 'data' | 'streamVersion'>[]): NotificationState {
  const state: NotificationState = { version: null, attempts: 0, settled: undefined };
  for (const event of events) {
    state.version = event.streamVersion;
    const data = event.data as Record<string, unknown>;
    switch (event.type) {
      case NotificationEvents.Requested:
        state.request = event.data as NotificationRequest;
        break;
      case NotificationEvents.Attempted:
        state.attempts = data.attempt as number;
        state.claim = { attempt: data.attempt as number, leaseUntil: data.leaseUntil as string };
        break;
      case NotificationEvents.Sent:
        state.settled = 'sent';
        delete state.claim;
        break;
      case NotificationEvents.Failed:
        state.retryAt = data.retryAt as string;
        state.lastError = data.error as string;
        delete state.claim;
        break;
      case NotificationEvents.DeadLettered:
        state.settled = 'dead-lettered';
        delete state.claim;
        break;
    }
  }
  return state;
}

/**
 * Creates the dispatcher. It follows `NotificationRequested` events from its checkpoint and
 * delivers each one in its own task, so a slow or failing notification never holds up the others.
 * Every attempt is recorded: `NotificationAttempted` (a claim appended at the exact stream version,
 * so two dispatchers never send the same attempt), then `NotificationSent`, `NotificationFailed
 * { attempt, error, retryAt }` or, after `maxAttempts`, `NotificationDeadLettered`.
 *
 * The checkpoint is a low-water mark: it never passes a request that is not settled, so after a
 * crash every unfinished notification is picked up again.
 */
export function createNotificationDispatcher(options: NotificationDispatcherOptions): NotificationDispatcher {
  const { store, sender } = options;
  const checkpoints = options.checkpoints ?? new MemoryCheckpointStore();
  const name = options.name ?? 'notification-dispatcher';
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 300_000;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const leaseMs = options.leaseMs ?? 60_000;
  const concurrency = options.concurrency ?? 16;
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const dispatcherId = uuidv4();

  const stats: DispatcherStats = { sent: 0, failedAttempts: 0, deadLettered: 0, inFlight: 0 };
  /** Request position → its delivery task. */
  const inFlight = new Map<bigint, Promise<void>>();
  /**
   * Requests whose task ended before they were settled (stopped while waiting for a retry, a store
   * error): the checkpoint stays below them until a restart picks them up again.
   */
  const unsettled = new Set<bigint>();
  const slotFreed: (() => void)[] = [];
  let subscription: Subscription | undefined;
  let abort = new AbortController();
  let seen: bigint = START;
  let stored: bigint | null = null;
  let saving: Promise<void> = Promise.resolve();

  function lowWaterMark(): bigint {
    let mark = seen;
    for (const position of [...inFlight.keys(), ...unsettled]) if (position - 1n < mark) mark = position - 1n;
    return mark;
  }

  function saveCheckpoint() {
    saving = saving.then(async () => {
      const mark = lowWaterMark();
      if (stored !== null && mark <= stored) return;
      try {
        await checkpoints.store(name, mark, stored);
        stored = mark;
      } catch (error) {
        // Another dispatcher moved it; claims keep the two from sending twice, so just follow it.
        if (isCheckpointConflictError(error)) stored = error.actual;
        else throw error;
      }
    }).catch(() => undefined);
    return saving;
  }

  /** Delivers one notification; resolves `true` once it is settled, `false` when stopped before that. */
  async function deliver(stream: string): Promise<boolean> {
    const signal = abort.signal;
    while (!signal.aborted) {
      const state = foldNotification((await store.readStream(stream)).events);
      if (state.settled || !state.request) return true;
      const wait = waitBeforeNextAttempt(state);
      if (wait > 0) {
        await sleep(wait, signal);
        continue;
      }
      const attempt = state.attempts + 1;
      if (attempt > maxAttempts) {
        // The last attempt was claimed and never reported (its dispatcher died): it counts as failed.
        try {
          const lastError = state.lastError ?? `attempt ${state.attempts} was never reported`;
          await store.appendToStream(stream, [event(NotificationEvents.DeadLettered, { attempts: state.attempts, lastError })], {
            expectedVersion: state.version ?? 'no_stream',
          });
        } catch (error) {
          if (isWrongExpectedVersionError(error)) continue;
          throw error;
        }
        stats.deadLettered++;
        return true;
      }
      const leaseUntil = new Date(now().getTime() + leaseMs).toISOString();
      let claimed: bigint;
      try {
        claimed = (
          await store.appendToStream(stream, [event(NotificationEvents.Attempted, { attempt, leaseUntil, dispatcher: dispatcherId })], {
            expectedVersion: state.version ?? 'no_stream',
          })
        ).nextExpectedVersion;
      } catch (error) {
        if (isWrongExpectedVersionError(error)) continue; // someone else moved first: look again
        throw error;
      }
      const outcome = await sendWithTimeout(state.request, attempt);
      let report;
      if (outcome.ok) {
        report = event(NotificationEvents.Sent, { attempt });
      } else if (attempt >= maxAttempts) {
        report = event(NotificationEvents.DeadLettered, { attempts: attempt, lastError: outcome.error });
      } else {
        const delay = random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        report = event(NotificationEvents.Failed, {
          attempt,
          error: outcome.error,
          retryAt: new Date(now().getTime() + delay).toISOString(),
        });
      }
      try {
        await store.appendToStream(stream, [report], { expectedVersion: claimed });
      } catch (error) {
        if (isWrongExpectedVersionError(error)) continue; // our lease ran out and another took over
        throw error;
      }
      if (report.type === NotificationEvents.Sent) stats.sent++;
      else if (report.type === NotificationEvents.DeadLettered) stats.deadLettered++;
      else stats.failedAttempts++;
    }
    return false;
  }

  function waitBeforeNextAttempt(state: NotificationState): number {
    const at = now().getTime();
    if (state.claim) return Math.max(0, Date.parse(state.claim.leaseUntil) - at);
    if (state.retryAt) return Math.max(0, Date.parse(state.retryAt) - at);
    return 0;
  }

  async function sendWithTimeout(request: NotificationRequest, attempt: number): Promise<{ ok: true } | { ok: false; error: string }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(() => sender.send(request, { idempotencyKey: request.dedupeKey, attempt })),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`send timed out after ${sendTimeoutMs} ms`)), sendTimeoutMs);
        }),
      ]);
      return { ok: true };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  function event(type: string, data: Record<string, unknown>) {
    return { id: uuidv4(), type, data, metadata: { actor: 'notification-dispatcher', dispatcher: dispatcherId } };
  }

  async function onRequested(requested: RecordedEvent) {
    while (inFlight.size >= concurrency) await new Promise<void>((resolve) => slotFreed.push(resolve));
    const position = requested.globalPosition;
    stats.inFlight++;
    const task = deliver(requested.streamName)
      .catch(() => false) // a store error leaves it unsettled: the checkpoint stays below it
      .then((settled) => {
        if (!settled) unsettled.add(position);
      })
      .finally(() => {
        inFlight.delete(position);
        stats.inFlight--;
        slotFreed.shift()?.();
        void saveCheckpoint();
      });
    inFlight.set(position, task);
    seen = position;
  }

  return {
    stats,
    async start() {
      if (subscription) return;
      abort = new AbortController();
      unsettled.clear(); // reading from the checkpoint, which is below them, picks them up again
      stored = await checkpoints.read(name);
      seen = stored ?? START;
      subscription = store.subscribeToAll({
        after: seen,
        filter: { eventTypes: [NotificationEvents.Requested], streamPrefixes: [NOTIFICATION_STREAM_PREFIX] },
        onEvent: onRequested,
        onCaughtUp: (position) => {
          if (position > seen) seen = position;
          void saveCheckpoint();
        },
      });
    },
    async stop() {
      // First: deliveries waiting for a retry give up (they hold the checkpoint below them) and free
      // their slots, so a subscription waiting for a slot can stop.
      abort.abort();
      await subscription?.stop();
      subscription = undefined;
      await Promise.all(inFlight.values());
      await saveCheckpoint();
    },
    async waitUntilIdle({ timeoutMs = 30_000 } = {}) {
      const head = await store.headPosition();
      const deadline = Date.now() + timeoutMs;
      while (seen < head || inFlight.size > 0) {
        if (Date.now() > deadline) throw new Error(`Notification dispatcher not idle after ${timeoutMs} ms`);
        if (inFlight.size > 0) await Promise.race([Promise.all(inFlight.values()), sleep(50)]);
        else await sleep(5);
      }
    },
  };
}
