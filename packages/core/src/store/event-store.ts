import type { NewEvent, RecordedEvent } from '../events.js';

/**
 * What an append expects of the stream:
 * - `'any'`: no check;
 * - `'no_stream'`: the stream must not exist yet (creating an entity, claiming a slot);
 * - `'stream_exists'`: the stream must have at least one event;
 * - a `bigint`: the version of the stream's last event (0-based), as the writer read it.
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** The outcome of a successful append (or of an absorbed retry of one). */
export interface AppendResult {
  /** The version of the last event now in the stream: the expected version of the next append. */
  nextExpectedVersion: bigint;
  /** The global position of the batch's last event. */
  lastGlobalPosition: bigint;
  /**
   * True when the batch was already stored (its ids at this place in the stream): this call wrote
   * nothing and the result is the original one. Never true for a batch this call wrote. Of two
   * callers sending the same batch at once, exactly one gets `false` on the memory and PostgreSQL
   * stores; on EventStoreDB, whose server answers an absorbed retry like the original write, both
   * may. A store that retried on its own after losing a connection reports `false` for a batch its
   * earlier try may have stored (see each adapter's README).
   */
  duplicate: boolean;
}

/** Options of {@link EventStore.appendToStream}. */
export interface AppendOptions {
  expectedVersion: ExpectedVersion;
}

/** One stream's part of an {@link EventStore.appendToStreams} call. */
export interface StreamAppendRequest {
  stream: string;
  events: readonly NewEvent[];
  expectedVersion: ExpectedVersion;
}

/** Where one stream of an {@link EventStore.appendToStreams} call ended. */
export interface StreamAppendOutcome {
  stream: string;
  /** The version of the stream's last event of this call: the expected version of its next append. */
  nextExpectedVersion: bigint;
  /** The global position of the stream's last event of this call. */
  lastGlobalPosition: bigint;
}

/** The outcome of a successful {@link EventStore.appendToStreams} call (or of an absorbed retry of one). */
export interface MultiStreamAppendResult {
  /** True when the call had been stored before (a retry): nothing was written this time. */
  duplicate: boolean;
  /** One outcome per request, in request order. */
  streams: StreamAppendOutcome[];
  /** The global position of the call's last event. */
  lastGlobalPosition: bigint;
}

/** Which part of one stream {@link EventStore.readStream} returns; by default all of it, forwards. */
export interface ReadStreamOptions {
  /** First version to read (forwards) or last version to read (backwards): a bigint from 0 to 2^63 − 1. */
  fromVersion?: bigint;
  /** Most events to return: a whole number from 0 (or `Infinity`). */
  maxCount?: number;
  direction?: 'forwards' | 'backwards';
}

/** One stream's events as read, with the version to expect when appending after them. */
export interface ReadStreamResult {
  /** The stream's current version (its last event's), or `null` when the stream does not exist. */
  version: bigint | null;
  events: RecordedEvent[];
}

/** Which events of the global log a reader wants. An empty filter matches everything. */
export interface LogFilter {
  /** Only these event types. */
  eventTypes?: readonly string[];
  /** Only streams whose name starts with one of these. */
  streamPrefixes?: readonly string[];
}

/** Options of {@link EventStore.readAll}; checked by `validateReadAll`. */
export interface ReadAllOptions {
  /** Deliver events with a global position strictly greater than this. Default {@link START}. */
  after?: bigint;
  /** Most events to return: a whole number from 0 (or `Infinity`). */
  maxCount?: number;
  filter?: LogFilter;
}

/** Where a subscription to the global log starts, what it delivers, and the callbacks it calls. */
export interface SubscribeOptions {
  /** Deliver events with a global position strictly greater than this. Default {@link START}. */
  after?: bigint;
  filter?: LogFilter;
  /**
   * Called once per event, in log order, one at a time: the next call waits for the returned
   * promise. If it throws, the subscription stops and `onError` is called.
   */
  onEvent(event: RecordedEvent): void | Promise<void>;
  /**
   * Called each time delivery has reached the head of the log (after catch-up, then whenever idle).
   * `position` means: every event up to here was delivered or did not match the filter. Runners
   * store it as a checkpoint, so a store that filters elsewhere (on a server) must be sure of it.
   */
  onCaughtUp?(position: bigint): void;
  /** The subscription stopped because of this error. */
  onError?(error: unknown): void;
  /**
   * A read failed for a transient reason (a lost connection, a restarting server) and the
   * subscription will read again by itself, after a backoff. For status reporting only: delivery
   * goes on without any action. Called once per failed read.
   */
  onReadRetry?(error: unknown): void;
}

/** A running subscription. */
export interface Subscription {
  /** Stops delivery; resolves once no `onEvent` call is running. */
  stop(): Promise<void>;
  /** Resolves when the subscription has ended, by `stop()` or by an error. */
  readonly done: Promise<void>;
}

/** Global position "before the first event". Positions of stored events are always greater. */
export const START = 0n;

/**
 * The port every store implements. The promises each keeps (optimistic concurrency, idempotent
 * retry, a gap-free global log, atomic batches, validation before writing) are proven by one
 * contract suite that runs against every store.
 */
export interface EventStore {
  /**
   * Appends all `events` to `stream` atomically if the stream matches `expectedVersion`.
   * Re-appending events whose ids are already at that place in the stream succeeds, writes nothing
   * and returns the original result with `duplicate: true`, whatever the expected version and
   * however many events came after it. `'any'` never conflicts.
   * @throws WrongExpectedVersionError when the stream does not match; nothing is written.
   * @throws ValidationError for a bad stream name, event type, id or payload; nothing is written.
   * @throws DuplicateEventIdError when an id is already stored elsewhere; nothing is written. (Within
   *   a stream every store guarantees this; across streams it needs an index by event id, which
   *   PostgreSQL and the in-memory store have and EventStoreDB does not: see its adapter's README.)
   */
  appendToStream(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult>;

  /**
   * Appends to several streams in one atomic step: every request is written or none is. Each
   * stream's expected version is checked as {@link appendToStream} checks it; the events of one
   * call are contiguous in the global log, in request order, so a subscriber sees all of them or
   * none. Repeating a stored call (the same ids in the same streams) writes nothing and returns the
   * original outcome with `duplicate: true`. A store that cannot do this atomically throws
   * `UnsupportedOperationError` and never emulates it with separate appends.
   * @throws WrongExpectedVersionError listing, in `streams`, every stream that did not match; nothing is written.
   * @throws PartialRetryError when some requests' events are stored already and others are not; nothing is written.
   * @throws ValidationError for bad input (also: a stream named twice, too many streams, too many bytes in all); nothing is written.
   * @throws DuplicateEventIdError when an id is already stored elsewhere; nothing is written.
   * @throws UnsupportedOperationError when the store (its server or client version) cannot append atomically to several streams.
   */
  appendToStreams(requests: readonly StreamAppendRequest[]): Promise<MultiStreamAppendResult>;

  /** Reads a stream. A stream that does not exist reads as `{ version: null, events: [] }`. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<ReadStreamResult>;

  /**
   * Reads the global log in order, after a position. Never skips an event that commits later.
   * @throws ValidationError for bad options (`after`, `maxCount`, `filter`), naming the field.
   */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;

  /** Catch-up from a position, then live. Every matching event is delivered exactly once, in order. */
  subscribeToAll(options: SubscribeOptions): Subscription;

  /** The global position of the last event a reader can see, or {@link START} when the log is empty. */
  headPosition(): Promise<bigint>;

  /** Releases what the store holds (connections, timers); stops its subscriptions. */
  close(): Promise<void>;
}

/** True when `event` passes `filter`. Stores use it for filtering they cannot push down. */
export function matchesFilter(event: { type: string; streamName: string }, filter: LogFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.eventTypes && filter.eventTypes.length > 0 && !filter.eventTypes.includes(event.type)) return false;
  if (
    filter.streamPrefixes &&
    filter.streamPrefixes.length > 0 &&
    !filter.streamPrefixes.some((prefix) => event.streamName.startsWith(prefix))
  ) {
    return false;
  }
  return true;
}

/** True when a stream at `actual` (null: no stream) satisfies `expected`. */
export function versionMatches(expected: ExpectedVersion, actual: bigint | null): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === null;
    case 'stream_exists':
      return actual !== null;
    default:
      return actual === expected;
  }
}
