import {
  AppendOutcomeUnknownError,
  DEFAULT_APPEND_LIMITS,
  DuplicateEventIdError,
  isOrdoError,
  OrdoError,
  START,
  ValidationError,
  WrongExpectedVersionError,
  matchesFilter,
  validateAppend,
  validateReadAll,
  validateReadStream,
  type AppendLimits,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
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
   * ids when the server reports a conflict, or when an `'any'`/`'stream_exists'` append is sent again
   * after a dropped connection. Default 100.
   */
  idempotencyLookback?: number;
  /**
   * How many event ids (per client) the adapter remembers with their stream and revision, from
   * appends and stream reads: to refuse an id that is already stored in another stream, and to find
   * a retried batch with one read, however deep in the stream. EventStoreDB has no index by event
   * id: ids written before this process started, or forgotten since, are left to the server's own
   * checks (see the README). Default 100,000.
   */
  rememberedIds?: number;
  /** Deadline of each call in milliseconds; by default the client's (`defaultDeadline`, 10 s). */
  deadlineMs?: number;
  /**
   * Retries of a call after the connection dropped, before giving up: with `AppendOutcomeUnknownError`
   * for an append, `EventStoreDBUnavailableError` for a read. Default 3.
   */
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

/** Event ids the adapter has written or read, with their stream, per client. */
const rememberedByClient = new WeakMap<object, Map<string, RememberedId>>();

/** Where an event id is stored. */
interface RememberedId {
  stream: string;
  revision: bigint;
}

/**
 * The Ordo {@link EventStore} on EventStoreDB (KurrentDB), through the service's own
 * `EventStoreDBClient` (`@eventstore/db-client`) or `KurrentDBClient` (`@kurrent/kurrentdb-client`).
 *
 * Where EventStoreDB promises less than the store contract, the adapter makes up the difference:
 * - Idempotent retry under every expected version. EventStoreDB recognises a repeated append
 *   reliably only under an exact expected revision behind the stream (and, best effort, from a
 *   cache of recent ids under `ANY`). The adapter sends every expected version as it is (`'any'`
 *   never conflicts), locates a batch whose ids it remembers with one read where they were stored
 *   (see `rememberedIds`), and after a conflict looks for the batch among the latest events (see
 *   `idempotencyLookback`). The README lists exactly which retries are guaranteed.
 * - `duplicate` only when known (the one difference not made up). The server answers a retry it absorbed as it answered the original
 *   write, so such a retry returns the original result with `duplicate: false`: racing callers of
 *   one batch may all hear `false` (never `true` for a batch they wrote).
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
  private readonly remembered: Map<string, RememberedId>;
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
   * @throws AppendOutcomeUnknownError when the connection failed or the deadline passed after the
   *   append was sent (its `cause` is the `EventStoreDBUnavailableError` or `EventStoreDBTimeoutError`)
   * @throws EventStoreDBError for other server failures (see its `kind`)
   */
  async appendToStream(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    const expected = options?.expectedVersion;
    const batch = validateAppend(stream, events, expected, this.limits);
    this.checkAppendSize(batch);
    this.refuseIdsOfOtherStreams(stream, batch);

    // A batch this client wrote or read before: one read where it was stored tells whether it is a retry.
    const located = await this.locate(stream, batch);
    if (located) return located;
    try {
      return await this.write(stream, batch, expected);
    } catch (error) {
      if (errorType(error) !== 'wrong-expected-version') throw error;
      // Under an exact revision the server compares ids only after that revision; a retry sent with
      // another expected version is found among the latest events, or it is a real conflict.
      const tail = await this.readTail(stream, this.lookback + batch.length + 1);
      const retried = this.retriedAppend(stream, batch, tail.events);
      if (retried) return { ...retried, duplicate: true };
      throw new WrongExpectedVersionError(stream, expected, tail.version ?? currentOf(error));
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
      seenBefore: (stream, batch) => batch.some((e) => this.remembered.get(e.id)?.stream === stream),
      remember: (stream, batch, first) => this.remember(stream, batch, first),
      readTail: (stream, count) => this.readTail(stream, count),
      retriedAppend: (stream, batch, tail) => this.retriedAppend(stream, batch, tail),
      positionOf: (stream, revision) => this.positionOf(stream, revision),
      toError: (error, stream) => this.toError(error, stream),
    };
  }

  /**
   * The original result when this client remembers where the batch's first id was stored and the
   * batch sits there whole (one read of `batch.length` events, however deep in the stream). Throws
   * `DuplicateEventIdError` when a remembered id is stored there some other way.
   */
  private async locate(stream: string, batch: readonly NewEvent[]): Promise<AppendResult | undefined> {
    const known = batch.findIndex((e) => this.remembered.get(e.id)?.stream === stream);
    if (known < 0) return undefined;
    const at = this.remembered.get(batch[known]!.id)!.revision;
    // Where the batch would start if it is a retry; the read covers the remembered id either way.
    const first = at - BigInt(known);
    const from = first < 0n ? 0n : first;
    const stored = (await this.read(stream, { fromRevision: from, direction: 'forwards', maxCount: batch.length })) ?? [];
    if (first >= 0n && stored.length === batch.length && batch.every((e, i) => stored[i]!.id.toLowerCase() === e.id)) {
      const last = stored.at(-1)!;
      return { nextExpectedVersion: last.streamVersion, lastGlobalPosition: last.globalPosition, duplicate: true };
    }
    if (stored.find((e) => e.streamVersion === at)?.id.toLowerCase() === batch[known]!.id) {
      throw new DuplicateEventIdError(stream, batch[known]!.id);
    }
    // Remembered wrongly (the stream was deleted and written again): forget, and write.
    for (const e of batch) if (this.remembered.get(e.id)?.stream === stream) this.remembered.delete(e.id);
    return undefined;
  }

  /**
   * Writes with the caller's expected version, as EventStoreDB understands it; after a dropped
   * connection, sends the same write again. A current server answers a retry it absorbed with the
   * original revision and position, like a fresh write, so `duplicate` is `false` then; only an
   * answer without a position (old servers gave one for an absorbed retry) says it was absorbed.
   */
  private async write(stream: string, batch: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    const data = batch.map((e) => ({ id: e.id, type: e.type, contentType: 'application/json', data: e.data, metadata: e.metadata ?? {} }));
    let maybeStored = false;
    for (let attempt = 0; ; attempt++) {
      try {
        if (maybeStored && (expected === 'any' || expected === 'stream_exists')) {
          // Only an exact revision makes the server recognise a retry reliably: look first.
          const tail = await this.readTail(stream, this.lookback + batch.length + 1);
          const retried = this.retriedAppend(stream, batch, tail.events);
          if (retried) return { ...retried, duplicate: false };
        }
        const result = await this.client.appendToStream(stream, data, appendOptions(expected, this.deadline));
        if (!result.success) {
          throw Object.assign(new Error('wrong expected version'), { type: 'wrong-expected-version', actualVersion: result.nextExpectedRevision });
        }
        const position = result.position?.commit ?? (await this.positionOf(stream, result.nextExpectedRevision));
        this.remember(stream, batch, result.nextExpectedRevision - BigInt(batch.length - 1));
        // After a lost answer, a recognised batch is most likely this call's own first try.
        const duplicate = result.position === undefined && !maybeStored;
        return { nextExpectedVersion: result.nextExpectedRevision, lastGlobalPosition: position, duplicate };
      } catch (error) {
        if (errorType(error) === 'wrong-expected-version') throw error;
        if (errorType(error) === 'maximum-append-size-exceeded') {
          throw new ValidationError('append', [{ path: 'events', message: `exceeds the server's maximum append size` }]);
        }
        if (isTransient(error) && attempt < this.retries) {
          maybeStored = true;
          await sleep(10 * 2 ** attempt);
          continue;
        }
        if (isTransient(error) || isTimeout(error)) {
          // The append may have reached the server: only sending it again can tell.
          throw new AppendOutcomeUnknownError(
            stream,
            `The outcome of an append to "${stream}" is unknown (the connection failed or the deadline passed); ` +
              'send the same append again: if it was written, the retry is absorbed',
            { cause: this.toError(error, stream) },
          );
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
    return { nextExpectedVersion: last.streamVersion, lastGlobalPosition: last.globalPosition, duplicate: true };
  }

  private refuseIdsOfOtherStreams(stream: string, batch: readonly NewEvent[]) {
    for (const e of batch) {
      const owner = this.remembered.get(e.id)?.stream;
      if (owner !== undefined && owner !== stream) throw new DuplicateEventIdError(stream, e.id);
    }
  }

  /** Remembers where ids are stored: `batch[i]` at revision `first + i`. */
  private remember(stream: string, batch: readonly { id: string }[], first: bigint) {
    batch.forEach((e, i) => {
      const id = e.id.toLowerCase();
      this.remembered.delete(id);
      this.remembered.set(id, { stream, revision: first + BigInt(i) });
    });
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
        out.forEach((e) => this.remember(stream, [e], e.streamVersion));
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
    validateReadStream(stream, options);
    const backwards = options.direction === 'backwards';
    const maxCount = Math.min(options.maxCount ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
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
    validateReadAll(options);
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
    validateReadAll({ ...(options.after !== undefined && { after: options.after }), ...(options.filter !== undefined && { filter: options.filter }) }, 'subscription');
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
    if (isOrdoError(error)) return error;
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
