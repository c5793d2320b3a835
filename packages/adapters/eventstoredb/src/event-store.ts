import {
  DEFAULT_APPEND_LIMITS,
  DuplicateEventIdError,
  OrdoError,
  START,
  ValidationError,
  WrongExpectedVersionError,
  matchesFilter,
  streamNameIssues,
  validateAppend,
  versionMatches,
  type AppendLimits,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type MultiStreamAppendResult,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ReadStreamResult,
  type RecordedEvent,
  type StreamAppendRequest,
  type SubscribeOptions,
  type Subscription,
  sleep,
} from '@ordo/core';
import {
  appendOptions,
  clientPosition,
  commitPositionOf,
  errorType,
  isTimeout,
  isTransient,
  loose,
  toRecordedEvent,
  type ClientResolvedEvent,
  type ClientRevision,
  type EventStoreClient,
  type LooseClient,
} from './client.js';
import { EventStoreDBError, EventStoreDBStreamDeletedError, EventStoreDBTimeoutError, EventStoreDBUnavailableError } from './errors.js';
import { appendToStreamsInKurrent, type MultiAppendHost, type MultiAppendSupport } from './multi-append.js';
import { DEFAULT_SUBSCRIPTION_SETTINGS, serverFilter, subscribeToAll, type SubscriptionSettings } from './subscription.js';

/** Stream name prefix of the checkpoint streams {@link EventStoreDBCheckpointStore} writes. */
export const DEFAULT_CHECKPOINT_STREAM_PREFIX = 'ordo-checkpoint-';

/** Options of {@link EventStoreDBEventStore}. */
export interface EventStoreDBEventStoreOptions {
  /** Limits checked before anything is sent (Ordo's defaults: 1 MiB per event, 10,000 events). */
  limits?: Partial<AppendLimits>;
  /**
   * The server's largest append, in bytes of data and metadata (its `MaxAppendSize` setting,
   * 1 MiB by default). A bigger append is refused with a `ValidationError` before it is sent.
   */
  maxAppendSize?: number;
  /**
   * How many of a stream's latest events (besides the batch's own length) an append searches for its
   * ids when it may be a retry: always under `'any'` and `'stream_exists'`; under `'no_stream'` and
   * exact versions when the server reports a conflict, or when this client has already written or
   * read one of the batch's ids in that stream. Default 100.
   */
  idempotencyLookback?: number;
  /**
   * How many event ids (per client) the adapter remembers with their stream, from appends and
   * stream reads: to refuse an id that is already stored in another stream, and to tell a possible
   * retry from a fresh append. EventStoreDB has no index by event id: ids written before this
   * process started, or forgotten since, are not recognised. Default 100,000.
   */
  rememberedIds?: number;
  /** Deadline of each call in milliseconds; by default the client's (`defaultDeadline`, 10 s). */
  deadlineMs?: number;
  /** Retries of a call after the connection dropped, before giving up with `EventStoreDBUnavailableError`. Default 3. */
  retries?: number;
  /** Streams that readers of the global log never see (by default the checkpoint streams). */
  hiddenStreamPrefixes?: readonly string[];
  /** How subscriptions probe for being caught up and recover from drops. */
  subscriptions?: Partial<SubscriptionSettings>;
  /** Dispose of the client in `close()`. Default false: the client belongs to the service that made it. */
  disposeClientOnClose?: boolean;
}

const DEFAULT_MAX_APPEND_SIZE = 1024 * 1024;
const PAGE = 500;
const MAX_ATTEMPTS = 20;

/** Event ids the adapter has written or read, with their stream, per client. */
const rememberedByClient = new WeakMap<object, Map<string, string>>();

/**
 * The Ordo {@link EventStore} on EventStoreDB (KurrentDB), through the service's own
 * `EventStoreDBClient` (`@eventstore/db-client`) or `KurrentDBClient` (`@kurrent/kurrentdb-client`).
 *
 * Where EventStoreDB promises less than the store contract, the adapter makes up the difference:
 * - Idempotent retry under every expected version. EventStoreDB recognises a repeated append only
 *   under an exact expected revision that is behind the stream (and, best effort, from a cache of
 *   recent ids). So the adapter writes only with exact revisions (`'any'` and `'stream_exists'`
 *   become the revision it just read), which makes a retry after a dropped connection recognisable
 *   by the server; and whenever an append may be a retry (see `idempotencyLookback`) it reads the
 *   stream's latest events first: if the batch's ids are there, in order, it returns the original
 *   result; if some are there any other way, it throws `DuplicateEventIdError`.
 * - Unique ids across streams. EventStoreDB allows one id in many streams and has no index by id;
 *   the adapter remembers the ids it wrote or read (see `rememberedIds`) and refuses those in
 *   another stream.
 * - A global log of Ordo events only. `$all` also holds system events (`$`-prefixed types and
 *   streams) and the checkpoint streams; readers never see them.
 *
 * Positions are `$all` commit positions. Events appended through gRPC have equal commit and
 * prepare positions, so a position alone resumes a read or a subscription, also after a restart.
 * Needs EventStoreDB 22.10 or later (stream reads must carry `$all` positions).
 */
export class EventStoreDBEventStore implements EventStore {
  private readonly client: LooseClient;
  private readonly limits: AppendLimits;
  private readonly maxAppendSize: number;
  private readonly lookback: number;
  private readonly deadline: number | undefined;
  private readonly retries: number;
  private readonly hidden: readonly string[];
  private readonly subscriptionSettings: SubscriptionSettings;
  private readonly remembered: Map<string, string>;
  private readonly rememberedLimit: number;
  private readonly subscriptions = new Set<Subscription>();
  /** Whether the client and server offer the multi-stream append; learnt at its first use. */
  private readonly multiSupport: MultiAppendSupport = { known: undefined };
  private closed = false;

  constructor(
    client: EventStoreClient,
    private readonly options: EventStoreDBEventStoreOptions = {},
  ) {
    this.client = loose(client);
    this.limits = { ...DEFAULT_APPEND_LIMITS, ...options.limits };
    this.maxAppendSize = options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE;
    this.lookback = Math.max(0, options.idempotencyLookback ?? 100);
    this.deadline = options.deadlineMs;
    this.retries = options.retries ?? 3;
    this.hidden = options.hiddenStreamPrefixes ?? [DEFAULT_CHECKPOINT_STREAM_PREFIX];
    this.subscriptionSettings = { ...DEFAULT_SUBSCRIPTION_SETTINGS, ...options.subscriptions };
    this.rememberedLimit = options.rememberedIds ?? 100_000;
    let remembered = rememberedByClient.get(client);
    if (!remembered) {
      remembered = new Map();
      rememberedByClient.set(client, remembered);
    }
    this.remembered = remembered;
  }

  /**
   * Appends `events` atomically if the stream matches `options.expectedVersion`; a retried append
   * (the same ids at the same place) returns the original result and writes nothing.
   * @throws WrongExpectedVersionError, DuplicateEventIdError, ValidationError (nothing written)
   * @throws EventStoreDBError for server or connection failures (see its `kind`)
   */
  async appendToStream(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    const expected = options?.expectedVersion;
    const batch = validateAppend(stream, events, expected, this.limits);
    this.checkAppendSize(batch);
    this.refuseIdsOfOtherStreams(stream, batch);

    const exact = typeof expected === 'bigint' || expected === 'no_stream';
    for (let attempt = 1; ; attempt++) {
      let revision: ClientRevision;
      if (exact && attempt === 1 && !this.seenBefore(stream, batch)) {
        // Fresh ids under an exact revision: the server's own check covers a retry of this very call.
        revision = expected;
      } else {
        const tail = await this.readTail(stream, this.lookback + batch.length + 1);
        const retried = this.retriedAppend(stream, batch, tail.events);
        if (retried) return retried;
        if (!versionMatches(expected, tail.version)) throw new WrongExpectedVersionError(stream, expected, tail.version);
        revision = tail.version === null ? 'no_stream' : tail.version;
      }
      try {
        const result = await this.write(stream, batch, revision);
        this.remember(stream, batch);
        return result;
      } catch (error) {
        if (errorType(error) !== 'wrong-expected-version') throw error;
        // Another writer got in first, or this is a retry the server did not recognise: look again.
        if (attempt >= MAX_ATTEMPTS) throw new WrongExpectedVersionError(stream, expected, currentOf(error));
        if (attempt > 1) await sleep(Math.random() * Math.min(100, 2 ** attempt));
      }
    }
  }

  /**
   * Appends to several streams atomically, through KurrentDB's multi-stream append: needs a
   * `KurrentDBClient` (`@kurrent/kurrentdb-client` 1.1 or later) and KurrentDB 25.1 or later (see
   * `multi-append.ts`). Retries are recognised as {@link appendToStream} recognises them.
   * @throws UnsupportedOperationError with `@eventstore/db-client` or an older server; nothing is written.
   */
  async appendToStreams(requests: readonly StreamAppendRequest[]): Promise<MultiStreamAppendResult> {
    this.assertOpen();
    return appendToStreamsInKurrent(this.multiAppendHost(), requests);
  }

  /** What the multi-stream append borrows of this store. */
  private multiAppendHost(): MultiAppendHost {
    return {
      client: this.client,
      limits: this.limits,
      lookback: this.lookback,
      retries: this.retries,
      deadline: this.deadline,
      support: this.multiSupport,
      checkAppendSize: (batch) => this.checkAppendSize(batch),
      refuseIdsOfOtherStreams: (stream, batch) => this.refuseIdsOfOtherStreams(stream, batch),
      seenBefore: (stream, batch) => this.seenBefore(stream, batch),
      remember: (stream, batch) => this.remember(stream, batch),
      readTail: (stream, count) => this.readTail(stream, count),
      retriedAppend: (stream, batch, tail) => this.retriedAppend(stream, batch, tail),
      positionOf: (stream, revision) => this.positionOf(stream, revision),
      toError: (error, stream) => this.toError(error, stream),
    };
  }

  /** Writes with an exact expected revision; retries the same write after a dropped connection. */
  private async write(stream: string, batch: readonly NewEvent[], revision: ClientRevision): Promise<AppendResult> {
    const data = batch.map((e) => ({ id: e.id, type: e.type, contentType: 'application/json', data: e.data, metadata: e.metadata ?? {} }));
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.client.appendToStream(stream, data, appendOptions(revision, this.deadline));
        if (!result.success) throw Object.assign(new Error('wrong expected version'), { type: 'wrong-expected-version' });
        const position = result.position?.commit ?? (await this.positionOf(stream, result.nextExpectedRevision));
        return { nextExpectedVersion: result.nextExpectedRevision, lastGlobalPosition: position };
      } catch (error) {
        if (errorType(error) === 'wrong-expected-version') throw error;
        if (errorType(error) === 'maximum-append-size-exceeded') {
          throw new ValidationError('append', [{ path: 'events', message: `exceeds the server's maximum append size` }]);
        }
        // The same exact revision again: if the first try was written, the server recognises it.
        if (isTransient(error) && attempt < this.retries) {
          await sleep(10 * 2 ** attempt);
          continue;
        }
        throw this.toError(error, stream);
      }
    }
  }

  /** The stream's version and its latest `count` events, newest first. */
  private async readTail(stream: string, count: number): Promise<{ version: bigint | null; events: RecordedEvent[] }> {
    const events = await this.read(stream, { fromRevision: 'end', direction: 'backwards', maxCount: count });
    if (events === null) return { version: null, events: [] };
    return { version: events[0]?.streamVersion ?? null, events };
  }

  /**
   * The original result if `batch` is already stored in `stream` at one place, in order; throws
   * `DuplicateEventIdError` if any of its ids is stored there some other way.
   */
  private retriedAppend(stream: string, batch: readonly NewEvent[], tail: readonly RecordedEvent[]): AppendResult | undefined {
    const byId = new Map(tail.map((e) => [e.id.toLowerCase(), e]));
    const byVersion = new Map(tail.map((e) => [e.streamVersion, e]));
    const first = byId.get(batch[0]!.id);
    if (!first) {
      const clash = batch.find((e) => byId.has(e.id));
      if (clash) throw new DuplicateEventIdError(stream, clash.id);
      return undefined;
    }
    const same = batch.every((e, i) => byVersion.get(first.streamVersion + BigInt(i))?.id.toLowerCase() === e.id);
    if (!same) throw new DuplicateEventIdError(stream, first.id);
    const last = byVersion.get(first.streamVersion + BigInt(batch.length - 1))!;
    return { nextExpectedVersion: last.streamVersion, lastGlobalPosition: last.globalPosition };
  }

  /** True when this client has written or read one of the batch's ids in `stream`: the append may be a retry. */
  private seenBefore(stream: string, batch: readonly NewEvent[]): boolean {
    return batch.some((e) => this.remembered.get(e.id) === stream);
  }

  private refuseIdsOfOtherStreams(stream: string, batch: readonly NewEvent[]) {
    for (const e of batch) {
      const owner = this.remembered.get(e.id);
      if (owner !== undefined && owner !== stream) throw new DuplicateEventIdError(stream, e.id);
    }
  }

  private remember(stream: string, batch: readonly { id: string }[]) {
    for (const e of batch) {
      this.remembered.delete(e.id);
      this.remembered.set(e.id, stream);
    }
    while (this.remembered.size > this.rememberedLimit) this.remembered.delete(this.remembered.keys().next().value!);
  }

  private checkAppendSize(batch: readonly NewEvent[]) {
    const size = batch.reduce(
      (sum, e) => sum + Buffer.byteLength(JSON.stringify(e.data)) + Buffer.byteLength(JSON.stringify(e.metadata ?? {})),
      0,
    );
    if (size > this.maxAppendSize) {
      throw new ValidationError('append', [
        { path: 'events', message: `are ${size} bytes of JSON together; EventStoreDB takes at most ${this.maxAppendSize} in one append` },
      ]);
    }
  }

  private async positionOf(stream: string, revision: bigint): Promise<bigint> {
    const events = await this.read(stream, { fromRevision: revision, direction: 'forwards', maxCount: 1 });
    const event = events?.[0];
    if (!event || event.streamVersion !== revision) {
      throw new EventStoreDBError('unknown', `EventStoreDB acknowledged an append to "${stream}" whose last event cannot be read back`);
    }
    return event.globalPosition;
  }

  /** Reads a stream through the client; `null` when it does not exist. */
  private async read(stream: string, options: Record<string, unknown>): Promise<RecordedEvent[] | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        const out: RecordedEvent[] = [];
        for await (const resolved of this.client.readStream(stream, { ...options, ...this.deadlineOption() })) {
          out.push(this.recorded(resolved));
        }
        this.remember(stream, out);
        return out;
      } catch (error) {
        const type = errorType(error);
        if (type === 'stream-not-found') return null;
        if (isTransient(error) && attempt < this.retries) {
          await sleep(10 * 2 ** attempt);
          continue;
        }
        throw this.toError(error, stream);
      }
    }
  }

  private recorded(resolved: ClientResolvedEvent): RecordedEvent {
    const event = toRecordedEvent(resolved);
    if (!event) {
      throw new EventStoreDBError(
        'unknown',
        'EventStoreDB did not report the $all position of an event read from a stream; Ordo needs EventStoreDB 22.10 or later',
      );
    }
    return event;
  }

  /** Reads a stream; a missing or soft-deleted stream reads as `{ version: null, events: [] }`. */
  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    this.assertOpen();
    const issues = streamNameIssues(stream);
    if (issues.length > 0) throw new ValidationError('stream read', issues);
    const backwards = options.direction === 'backwards';
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (maxCount <= 0) return { version: (await this.readTail(stream, 1)).version, events: [] };
    const events = await this.read(stream, {
      fromRevision: options.fromVersion ?? (backwards ? 'end' : 'start'),
      direction: backwards ? 'backwards' : 'forwards',
      maxCount,
    });
    if (events === null) return { version: null, events: [] };
    let version: bigint | null;
    if (!backwards && events.length > 0 && events.length < maxCount) version = events.at(-1)!.streamVersion;
    else if (backwards && options.fromVersion === undefined && events.length > 0) version = events[0]!.streamVersion;
    else version = (await this.readTail(stream, 1)).version;
    return { version, events };
  }

  /** Reads `$all` after a position, in pages, without system events or hidden streams. */
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return;
    let cursor = options.after ?? START;
    for (;;) {
      let count = 0;
      const page: RecordedEvent[] = [];
      let last = cursor;
      await this.retrying(async () => {
        count = 0;
        page.length = 0;
        last = cursor;
        // The filter goes to the server where the client can send it (`@kurrent/kurrentdb-client`);
        // every event is checked again here either way.
        for await (const resolved of this.client.readAll({
          fromPosition: clientPosition(cursor),
          maxCount: PAGE,
          filter: serverFilter(options.filter),
          ...this.deadlineOption(),
        })) {
          count++;
          const position = commitPositionOf(resolved);
          if (position === undefined || position <= cursor) continue;
          last = position;
          const event = toRecordedEvent(resolved);
          if (event && this.visible(event) && matchesFilter(event, options.filter)) page.push(event);
        }
      });
      for (const event of page) {
        yield event;
        if (--remaining <= 0) return;
      }
      if (count < PAGE || last <= cursor) return;
      cursor = last;
    }
  }

  /** A catch-up-then-live subscription to `$all` that resumes after drops (see the README). */
  subscribeToAll(options: SubscribeOptions): Subscription {
    this.assertOpen();
    const subscription = subscribeToAll(
      {
        client: this.client,
        visible: (event) => this.visible(event),
        headPosition: () => this.lastPosition(true),
        toError: (error) => this.toError(error),
        settings: this.subscriptionSettings,
      },
      options,
    );
    this.subscriptions.add(subscription);
    void subscription.done.then(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  /**
   * The position of the last event a reader can see: system records and hidden streams, which keep
   * `$all` growing on a real node, are passed over. Subscriptions report being caught up at this
   * same head (see `subscription.ts`), so `waitFor(headPosition())` never waits for a position that
   * only a system record holds.
   */
  async headPosition(): Promise<bigint> {
    this.assertOpen();
    return this.lastPosition(true);
  }

  private async lastPosition(visibleOnly: boolean): Promise<bigint> {
    let from: 'end' | { commit: bigint; prepare: bigint } = 'end';
    for (;;) {
      let count = 0;
      let found: bigint | undefined;
      let oldest: bigint | undefined;
      await this.retrying(async () => {
        count = 0;
        found = undefined;
        for await (const resolved of this.client.readAll({
          fromPosition: from,
          direction: 'backwards',
          maxCount: visibleOnly ? 100 : 1,
          ...this.deadlineOption(),
        })) {
          count++;
          const position = commitPositionOf(resolved);
          const e = resolved.event;
          if (position === undefined || !e) continue;
          oldest = position;
          if (found === undefined && (!visibleOnly || this.visible({ streamName: e.streamId, type: e.type }))) found = position;
        }
      });
      if (found !== undefined) return found;
      if (!visibleOnly || count < 100 || oldest === undefined) return START;
      from = { commit: oldest, prepare: oldest };
    }
  }

  private visible(event: { streamName: string; type: string }): boolean {
    return !event.streamName.startsWith('$') && !event.type.startsWith('$') && !this.hidden.some((p) => event.streamName.startsWith(p));
  }

  private async retrying(work: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (isTransient(error) && attempt < this.retries) {
          await sleep(10 * 2 ** attempt);
          continue;
        }
        throw this.toError(error);
      }
    }
  }

  private deadlineOption(): Record<string, unknown> {
    return this.deadline === undefined ? {} : { deadline: this.deadline };
  }

  /** Turns a client error into an Ordo error. */
  private toError(error: unknown, stream?: string): unknown {
    if (error instanceof OrdoError) return error;
    const type = errorType(error);
    const message = error instanceof Error ? error.message : String(error);
    if (type === 'stream-deleted' || type === 'stream-tombstoned') {
      return new EventStoreDBStreamDeletedError(stream ?? String((error as { streamName?: unknown }).streamName ?? ''), { cause: error });
    }
    if (isTransient(error)) return new EventStoreDBUnavailableError(`EventStoreDB is unavailable: ${message}`, { cause: error });
    if (isTimeout(error)) {
      return new EventStoreDBTimeoutError(
        `EventStoreDB did not answer in time${stream ? ` (stream "${stream}")` : ''}; an append may or may not have been written, and sending it again is safe`,
        { cause: error },
      );
    }
    if (type === 'access-denied') return new EventStoreDBError('access_denied', `EventStoreDB denied access: ${message}`, { cause: error });
    return new EventStoreDBError('unknown', `EventStoreDB failed: ${message}`, { cause: error });
  }

  /** Stops this store's subscriptions (and disposes of the client if `disposeClientOnClose`). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    if (this.options.disposeClientOnClose) await this.client.dispose();
  }

  private assertOpen() {
    if (this.closed) throw new OrdoError('EventStoreDBEventStore is closed');
  }
}

/** The stream's current version from a client's wrong-expected-version error. */
function currentOf(error: unknown): bigint | null {
  const e = error as { actualVersion?: unknown; actualState?: unknown };
  const actual = e.actualVersion ?? e.actualState;
  return typeof actual === 'bigint' ? actual : null;
}
