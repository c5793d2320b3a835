import type { ExpectedVersion } from './store/event-store.js';

/** Base class of every error Ordo throws on purpose, so a service can tell them from bugs. */
export class OrdoError extends Error {
  override name = 'OrdoError';
}

/**
 * An append's expected version did not match the stream. Nothing was written.
 * The command handler catches this, re-reads and re-decides; it reaches callers only when the
 * retry budget is spent (then `attempts` says how many tries were made).
 */
export class WrongExpectedVersionError extends OrdoError {
  override name = 'WrongExpectedVersionError';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedVersion,
    /** The stream's current version, or `null` when the stream does not exist. */
    readonly actual: bigint | null,
    readonly attempts?: number,
  ) {
    super(
      `Wrong expected version on stream "${stream}": expected ${describeExpected(expected)}, ` +
        `actual ${actual === null ? 'no stream' : `version ${actual}`}` +
        (attempts !== undefined ? ` (gave up after ${attempts} attempts)` : ''),
    );
  }
}

function describeExpected(expected: ExpectedVersion): string {
  return typeof expected === 'bigint' ? `version ${expected}` : `'${expected}'`;
}

/** A stream that had to exist does not. */
export class StreamNotFoundError extends OrdoError {
  override name = 'StreamNotFoundError';
  constructor(
    readonly stream: string,
    message = `Stream "${stream}" does not exist`,
  ) {
    super(message);
  }
}

/**
 * An event id is already stored, but not as a clean retry of the same append (another stream, or
 * another place in this stream). Nothing was written. Event ids must be unique across the store.
 */
export class DuplicateEventIdError extends OrdoError {
  override name = 'DuplicateEventIdError';
  constructor(
    readonly stream: string,
    readonly eventId: string,
  ) {
    super(`Event id ${eventId} is already stored elsewhere; it cannot be appended to "${stream}" again`);
  }
}

/** One failing field of a {@link ValidationError}. `path` is dotted, e.g. `lines.0.quantity`. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Input was refused before it reached the store; nothing was written. Lists every failing field. */
export class ValidationError extends OrdoError {
  override name = 'ValidationError';
  constructor(
    /** What was being validated, e.g. `PlaceOrder command` or `event data`. */
    readonly subject: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    super(
      `Invalid ${subject}: ` +
        issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
    );
  }
}

/**
 * The store could not be reached, and retrying within the store's retry window did not help.
 * Nothing was written: the call is safe to retry as it is. `cause` holds the last driver error.
 */
export class StoreUnavailableError extends OrdoError {
  override name = 'StoreUnavailableError';
  /** Stable code, the same in every copy of the package. */
  readonly code = 'store_unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * An append was sent, then the connection failed before its answer arrived, and retrying within
 * the store's retry window did not get one. The events may or may not be stored. Retrying the same
 * command (the same event ids) is safe: if the first try was stored, the retry is absorbed.
 */
export class AppendOutcomeUnknownError extends OrdoError {
  override name = 'AppendOutcomeUnknownError';
  /** Stable code, the same in every copy of the package. */
  readonly code = 'append_outcome_unknown' as const;
  constructor(
    readonly stream: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The store cannot do what was asked (a feature its server lacks); nothing was written. */
export class UnsupportedOperationError extends OrdoError {
  override name = 'UnsupportedOperationError';
  /** Stable code, the same in every copy of the package. */
  readonly code = 'unsupported_operation' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
