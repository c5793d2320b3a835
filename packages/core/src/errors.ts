import type { ExpectedVersion } from './store/event-store.js';

/** Base class of every error Ordo throws on purpose, so a service can tell them from bugs. */
export class OrdoError extends Error {
  override name = 'OrdoError';
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
 * The store cannot do what was asked, e.g. an atomic append to several streams on a server or
 * client version without it. Nothing was written. Callers that have another way (two appends and
 * their own recovery) catch it by `code` or class and take that way.
 */
export class UnsupportedOperationError extends OrdoError {
  override name = 'UnsupportedOperationError';
  /** Stable, for callers that match on codes rather than classes. */
  readonly code = 'unsupported_operation';
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
