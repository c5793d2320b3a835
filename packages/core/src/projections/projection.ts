import { OrdoError } from '../errors.js';
import type { RecordedEvent } from '../events.js';

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
   * round trips (order numbers claim a whole batch with one append). If a batch keeps failing, the
   * runner hands events over one at a time to find the one that fails.
   */
  handleBatch?(events: readonly RecordedEvent[], context: ProjectionContext<Tx>): Promise<void>;
  /**
   * `false`: the projection writes through the event store (appends with derived ids, absorbed when
   * repeated), not through `tx`, so the runner stores the checkpoint after each batch instead of
   * holding a checkpoint transaction open around it. Such a transaction would hold one connection
   * of the pool while the appends wait for another: on a small pool, projections holding every
   * connection would wait for each other for ever. Default: use the checkpoint store's
   * transaction when it has one.
   */
  transactional?: boolean;
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
        `(stream "${event.stream}", version ${event.version}, position ${event.position}): ${describeError(cause)}`,
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

/** The message of an error, or the value as text. */
function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
