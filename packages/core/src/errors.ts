import type { ExpectedVersion } from './store/event-store.js';
import type { CheckpointConflictError } from './projections/checkpoints.js';
import type { ProjectionFailedError, ProjectionTimeoutError } from './projections/runner.js';

/**
 * The brand every Ordo error carries, under a registry symbol so that every copy of `@ordo/core` in
 * a process (an ESM and a CommonJS build, two versions) sees the same key. Its value lists the
 * error's codes, its own first, then those of the classes it extends (`OrderNotFoundError` carries
 * `['order_not_found', 'stream_not_found', 'ordo_error']`). This layout is a compatibility promise:
 * copies of different versions read each other's errors through it.
 */
const BRAND: unique symbol = Symbol.for('ordo.error') as never;

/** A class of Ordo error, as seen by {@link OrdoError}'s `Symbol.hasInstance`. */
type ErrorClass = { readonly code: string; readonly prototype: object };

/** The codes an Ordo error's class chain declares, most specific first. */
function codesOf(errorClass: ErrorClass): readonly string[] {
  const codes: string[] = [];
  for (let c: object | null = errorClass; c !== null && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (Object.hasOwn(c, 'code')) codes.push((c as ErrorClass).code);
  }
  return Object.freeze(codes);
}

/**
 * Base class of every error Ordo throws on purpose, so a service can tell them from bugs.
 *
 * Every Ordo error has a stable `code` (`wrong_expected_version`, `validation`, …) and a brand, so
 * {@link isOrdoError}, the `is…Error` guards and `instanceof` recognise errors thrown by another
 * copy of the package: an ESM application using a CommonJS adapter, or two installed versions.
 *
 * Adding an error is one small class with a code of its own; the brand, `code` and `instanceof`
 * across copies come from here. Add an `is…` guard next to the others when callers branch on it:
 *
 * ```ts
 * export class StoreUnavailableError extends OrdoError {
 *   static override readonly code: string = 'store_unavailable';
 *   override name = 'StoreUnavailableError';
 * }
 * export function isStoreUnavailableError(error: unknown): error is StoreUnavailableError {
 *   return isOrdoError(error, StoreUnavailableError.code);
 * }
 * ```
 *
 * A code is part of the public API: never reuse or rename one. A class meant to be extended types
 * its code `string` (see {@link StreamNotFoundError}). A subclass without its own code
 * (an application's `class MyError extends OrdoError {}`) gets its parent's and plain `instanceof`.
 */
export class OrdoError extends Error {
  /** The code of errors of this class; every subclass declares its own. */
  static readonly code: string = 'ordo_error';
  override name = 'OrdoError';
  /** Stable, machine-readable kind of error, e.g. `wrong_expected_version`. */
  readonly code: string;
  declare readonly [BRAND]: readonly string[];

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    const codes = codesOf(new.target);
    this.code = codes[0] ?? OrdoError.code;
    // Not enumerable: the brand is for recognition, not for logs and serialisers.
    Object.defineProperty(this, BRAND, { value: codes, enumerable: false });
  }

  /**
   * `error instanceof SomeOrdoError` is true for instances of the class, and for errors of its code
   * (or of a subclass's) thrown by another copy of the package.
   */
  static override [Symbol.hasInstance]<T>(this: abstract new (...args: never[]) => T, value: unknown): value is T {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const errorClass = this as unknown as ErrorClass;
    // Only a class with a code of its own can be recognised by code; others stay with the prototype chain.
    return Object.hasOwn(errorClass, 'code') && isOrdoError(value, errorClass.code);
  }
}

/**
 * Whether `value` is an Ordo error (from any copy of the package), optionally of `code` or of a
 * subclass of that code's class: `isOrdoError(e, 'stream_not_found')` is true for `OrderNotFoundError`.
 */
export function isOrdoError(value: unknown, code?: string): value is OrdoError {
  if (typeof value !== 'object' || value === null) return false;
  const codes = (value as { [BRAND]?: unknown })[BRAND];
  if (!Array.isArray(codes)) return false;
  return code === undefined || codes.includes(code);
}

/** One stream whose expected version did not match, as a {@link WrongExpectedVersionError} lists it. */
export interface StreamVersionConflict {
  stream: string;
  expected: ExpectedVersion;
  /** The stream's current version, or `null` when the stream does not exist. */
  actual: bigint | null;
}

/**
 * An append's expected version did not match the stream. Nothing was written.
 * The command handler catches this, re-reads and re-decides; it reaches callers only when the
 * retry budget is spent (then `attempts` says how many tries were made).
 * For an append to several streams, `streams` lists every stream that did not match (the first is
 * also in `stream`, `expected` and `actual`); for one stream it holds just that one.
 */
export class WrongExpectedVersionError extends OrdoError {
  static override readonly code = 'wrong_expected_version';
  override name = 'WrongExpectedVersionError';
  /** Every stream that did not match, with what was expected and what it is. */
  readonly streams: readonly StreamVersionConflict[];
  constructor(
    readonly stream: string,
    readonly expected: ExpectedVersion,
    /** The stream's current version, or `null` when the stream does not exist. */
    readonly actual: bigint | null,
    readonly attempts?: number,
    streams?: readonly StreamVersionConflict[],
  ) {
    const all = streams && streams.length > 0 ? streams : [{ stream, expected, actual }];
    super(
      all.map(describeConflict).join('; ') + (attempts !== undefined ? ` (gave up after ${attempts} attempts)` : ''),
    );
    this.streams = all;
  }

  /** The error for an append to several streams in which `conflicts` (at least one) did not match. */
  static forStreams(conflicts: readonly StreamVersionConflict[], attempts?: number): WrongExpectedVersionError {
    const first = conflicts[0]!;
    return new WrongExpectedVersionError(first.stream, first.expected, first.actual, attempts, conflicts);
  }
}

function describeConflict({ stream, expected, actual }: StreamVersionConflict): string {
  return (
    `Wrong expected version on stream "${stream}": expected ${describeExpected(expected)}, ` +
    `actual ${actual === null ? 'no stream' : `version ${actual}`}`
  );
}

function describeExpected(expected: ExpectedVersion): string {
  return typeof expected === 'bigint' ? `version ${expected}` : `'${expected}'`;
}

/** A stream that had to exist does not. */
export class StreamNotFoundError extends OrdoError {
  static override readonly code: string = 'stream_not_found';
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
  static override readonly code = 'duplicate_event_id';
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
  static override readonly code = 'validation';
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

/** Whether `error` is a {@link WrongExpectedVersionError}, from any copy of the package. */
export function isWrongExpectedVersionError(error: unknown): error is WrongExpectedVersionError {
  return isOrdoError(error, WrongExpectedVersionError.code);
}

/** Whether `error` is a {@link StreamNotFoundError} (or a subclass, e.g. an order not found), from any copy. */
export function isStreamNotFoundError(error: unknown): error is StreamNotFoundError {
  return isOrdoError(error, StreamNotFoundError.code);
}

/** Whether `error` is a {@link DuplicateEventIdError}, from any copy of the package. */
export function isDuplicateEventIdError(error: unknown): error is DuplicateEventIdError {
  return isOrdoError(error, DuplicateEventIdError.code);
}

/** Whether `error` is a {@link ValidationError}, from any copy of the package. */
export function isValidationError(error: unknown): error is ValidationError {
  return isOrdoError(error, ValidationError.code);
}

// The projection errors live with the runner; their guards live here, with the others. The codes
// are repeated (not imported) so that this module loads nothing from the runner.

/** Whether `error` is a `ProjectionFailedError`, from any copy of the package. */
export function isProjectionFailedError(error: unknown): error is ProjectionFailedError {
  return isOrdoError(error, 'projection_failed');
}

/** Whether `error` is a `ProjectionTimeoutError`, from any copy of the package. */
export function isProjectionTimeoutError(error: unknown): error is ProjectionTimeoutError {
  return isOrdoError(error, 'projection_timeout');
}

/** Whether `error` is a `CheckpointConflictError`, from any copy of the package. */
export function isCheckpointConflictError(error: unknown): error is CheckpointConflictError {
  return isOrdoError(error, 'checkpoint_conflict');
}

/**
 * The store could not be reached, and retrying within the store's retry window did not help.
 * Nothing was written: the call is safe to retry as it is. `cause` holds the last driver error.
 */
export class StoreUnavailableError extends OrdoError {
  override name = 'StoreUnavailableError';
  static override readonly code: string = 'store_unavailable';
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
  static override readonly code = 'append_outcome_unknown';
  constructor(
    readonly stream: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The store cannot do what was asked, e.g. an atomic append to several streams on a server or
 * client version without it. Nothing was written. Callers that have another way (two appends and
 * their own recovery) catch it by `code` or class and take that way.
 */
export class UnsupportedOperationError extends OrdoError {
  override name = 'UnsupportedOperationError';
  static override readonly code = 'unsupported_operation';
  constructor(
    /** The operation, e.g. `appendToStreams`. */
    readonly operation: string,
    /** Why, and what would support it. */
    readonly reason: string,
  ) {
    super(`${operation} is not supported: ${reason}`);
  }
}

/**
 * An append to several streams looks like a retry of an earlier one for some of its streams (their
 * events are stored, with these ids) but not for others. A retry must repeat the whole call; this
 * one mixes a stored call with new events, so nothing was written.
 */
export class PartialRetryError extends OrdoError {
  static override readonly code = 'partial_retry';
  override name = 'PartialRetryError';
  constructor(
    /** Streams whose events of this call are already stored. */
    readonly storedIn: readonly string[],
    /** Streams whose events of this call are not. */
    readonly missingFrom: readonly string[],
  ) {
    super(
      `An append to several streams is partly stored already (in ${storedIn.map((s) => `"${s}"`).join(', ')}, ` +
        `not in ${missingFrom.map((s) => `"${s}"`).join(', ')}); a retry must repeat the whole call, so nothing was written`,
    );
  }
}

/** Whether `error` is a {@link StoreUnavailableError} (nothing written; safe to retry), from any copy. */
export function isStoreUnavailableError(error: unknown): error is StoreUnavailableError {
  return isOrdoError(error, StoreUnavailableError.code);
}

/** Whether `error` is an {@link AppendOutcomeUnknownError} (retry the same command), from any copy. */
export function isAppendOutcomeUnknownError(error: unknown): error is AppendOutcomeUnknownError {
  return isOrdoError(error, AppendOutcomeUnknownError.code);
}

/** Whether `error` is an {@link UnsupportedOperationError}, from any copy of the package. */
export function isUnsupportedOperationError(error: unknown): error is UnsupportedOperationError {
  return isOrdoError(error, UnsupportedOperationError.code);
}

/** Whether `error` is a {@link PartialRetryError}, from any copy of the package. */
export function isPartialRetryError(error: unknown): error is PartialRetryError {
  return isOrdoError(error, PartialRetryError.code);
}
