import type { RecordedEvent } from '../events.js';
import { isCheckpointConflictError } from '../errors.js';
import { isTransient } from '../transient.js';
import { CheckpointConflictError, type CheckpointStore } from './checkpoints.js';
import { ProjectionFailedError, type Projection } from './projection.js';
import type { RunnerRecord } from './runner-status.js';
import { backoffDelay, StopRequested, type BackoffPolicy } from './supervision.js';

/** Where a runner is: the checkpoint as stored (compare-and-set expects it), and everything handled. */
export interface RunnerCursor {
  stored: bigint | null;
  position: bigint;
}

/** What the batch handling of a runner works with. */
export interface BatchHandlingContext<Tx> {
  projection: Projection<Tx>;
  checkpoints: CheckpointStore<Tx>;
  /** Apply each batch inside a checkpoint transaction. */
  transactional: boolean;
  /** Attempts and backoff for a handler failing with an error that is not transient. */
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  /** Backoff for everything waited out for as long as it takes. */
  backoff: BackoffPolicy;
  record: RunnerRecord;
  cursor: RunnerCursor;
  /** Waits `ms`, or less when the runner stops; throws `StopRequested` then. */
  pause(ms: number): Promise<void>;
  /** The runner is running and not stopping. */
  active(): boolean;
}

/** One failed attempt at a batch: whether the projection's own code failed, and with what. */
class AttemptFailed {
  constructor(
    readonly inHandler: boolean,
    readonly error: unknown,
  ) {}
}

/**
 * How a runner applies batches and stores checkpoints, under supervision: checkpoint writes and
 * transient failures are retried for as long as it takes; a handler failing otherwise on the same
 * batch `retry.maxAttempts` times has its batch split, event by event, to name the poison event.
 */
export function batchHandling<Tx>(context: BatchHandlingContext<Tx>) {
  const { projection, checkpoints, transactional, retry, backoff, record, cursor, pause, active } = context;

  /** Runs `work` until it succeeds, waiting out every failure but a checkpoint conflict or a stop. */
  async function persist<T>(work: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const result = await work();
        record.succeeded();
        return result;
      } catch (error) {
        if (isCheckpointConflictError(error)) throw error;
        if (!active()) throw new StopRequested();
        record.failed(error, true);
        await pause(backoffDelay(record.consecutiveFailures, backoff));
      }
    }
  }

  /** Stores the checkpoint at `to` (compare-and-set), unless it is there already. */
  async function storeCheckpoint(to: bigint) {
    if (cursor.stored !== null && to <= cursor.stored) return;
    await checkpoints.store(projection.name, to, cursor.stored);
    cursor.stored = to;
  }

  /** Hands `events` to the projection, inside one checkpoint transaction when it uses them. */
  async function apply(events: readonly RecordedEvent[]) {
    const last = events[events.length - 1]!.globalPosition;
    let inHandler = false;
    const work = async (tx: Tx) => {
      try {
        if (projection.handleBatch) await projection.handleBatch(events, { tx });
        else for (const event of events) await projection.handle!(event, { tx });
      } catch (error) {
        inHandler = true;
        throw error;
      }
    };
    try {
      if (transactional) {
        await checkpoints.transaction!(projection.name, last, cursor.stored, work);
        cursor.stored = last;
      } else {
        await work(undefined as Tx);
      }
    } catch (error) {
      if (isCheckpointConflictError(error)) throw error;
      throw new AttemptFailed(inHandler, error);
    }
  }

  /**
   * Applies `events` until it succeeds. Transient errors and checkpoint failures are waited out
   * for as long as it takes; a handler failing otherwise gets `retry.maxAttempts` attempts.
   */
  async function attempt(events: readonly RecordedEvent[]): Promise<{ ok: true } | { ok: false; error: unknown; attempts: number }> {
    let handlerFailures = 0;
    for (;;) {
      try {
        await apply(events);
        record.succeeded();
        return { ok: true };
      } catch (caught) {
        if (!(caught instanceof AttemptFailed)) throw caught;
        if (!active()) throw new StopRequested();
        const poisonous = caught.inHandler && !isTransient(caught.error);
        record.failed(caught.error, !poisonous);
        if (!poisonous) {
          await pause(backoffDelay(record.consecutiveFailures, backoff));
          continue;
        }
        if (++handlerFailures >= retry.maxAttempts) return { ok: false, error: caught.error, attempts: handlerFailures };
        await pause(backoffDelay(handlerFailures, retry));
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
   * Handles a batch as a whole; if its handler keeps failing, one event at a time, so the event that
   * fails is found and named, and everything before it counts as done.
   */
  async function handleBatch(batch: readonly RecordedEvent[]) {
    const whole = await attempt(batch);
    if (whole.ok) {
      cursor.position = batch[batch.length - 1]!.globalPosition;
      return;
    }
    if (batch.length === 1) throw poisoned(batch[0]!, whole.attempts, whole.error);
    for (const event of batch) {
      const one = await attempt([event]);
      if (!one.ok) throw poisoned(event, one.attempts, one.error);
      cursor.position = event.globalPosition;
    }
  }

  return { persist, storeCheckpoint, handleBatch };
}
