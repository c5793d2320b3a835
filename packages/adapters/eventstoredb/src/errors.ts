import { OrdoError, StoreUnavailableError } from '@ordo/core';

/** What went wrong talking to EventStoreDB, when it is not one of Ordo's own errors. */
export type EventStoreDBErrorKind = 'unavailable' | 'timeout' | 'stream_deleted' | 'access_denied' | 'unknown';

/**
 * A failure of the EventStoreDB server or of the connection to it. `kind` says which; for an append
 * that failed with `unavailable` or `timeout` the outcome is unknown, and sending the same append
 * again (same event ids) is safe: a write that went through is recognised and not repeated.
 */
export class EventStoreDBError extends OrdoError {
  static override readonly code: string = 'eventstoredb';
  override name = 'EventStoreDBError';
  constructor(
    readonly kind: EventStoreDBErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The server could not be reached, or the connection dropped, and retrying did not help: the
 * store-wide `StoreUnavailableError` (nothing written; safe to retry). An append that failed this
 * way is reported as `AppendOutcomeUnknownError` instead, with this error as its `cause`.
 */
export class EventStoreDBUnavailableError extends StoreUnavailableError {
  static override readonly code = 'eventstoredb_unavailable';
  override name = 'EventStoreDBUnavailableError';
  /** The same `kind` as the adapter's other errors. */
  readonly kind: EventStoreDBErrorKind = 'unavailable';
}

/** The call's deadline passed before the server answered. */
export class EventStoreDBTimeoutError extends EventStoreDBError {
  static override readonly code = 'eventstoredb_timeout';
  override name = 'EventStoreDBTimeoutError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('timeout', message, options);
  }
}

/** The stream was hard-deleted (tombstoned): it can be neither read nor written again. */
export class EventStoreDBStreamDeletedError extends EventStoreDBError {
  static override readonly code = 'eventstoredb_stream_deleted';
  override name = 'EventStoreDBStreamDeletedError';
  constructor(readonly stream: string, options?: { cause?: unknown }) {
    super('stream_deleted', `Stream "${stream}" is deleted in EventStoreDB`, options);
  }
}
