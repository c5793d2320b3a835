import type pg from 'pg';
import {
  DEFAULT_APPEND_LIMITS,
  AppendOutcomeUnknownError,
  DuplicateEventIdError,
  START,
  StoreUnavailableError,
  WrongExpectedVersionError,
  runSubscription,
  sleep,
  validateAppend,
  validateReadAll,
  validateReadStream,
  type AppendLimits,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type LogFilter,
  type LogSource,
  type MultiStreamAppendResult,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ReadStreamResult,
  type RecordedEvent,
  type StreamAppendRequest,
  type SubscribeOptions,
  type Subscription,
} from '@ordo/core';
import {
  STORE_TYPES,
  asDatabaseError,
  connect,
  isTransient,
  sqlState,
  withClient,
  type ConnectionOptions,
} from './connection.js';
import { appendToStreamsInPostgres } from './append-multi.js';
import { DEFAULT_SCHEMA, migrateSchema, schemaNames, validateSchemaName, type SchemaNames } from './schema.js';
import { listenClient, poolerPlan, withStatementNames, type PoolerOptions } from './pooler.js';
import { logReader, waitForReplay, type LogReader, type ReplicaOptions, type ReplicaWaitOptions } from './replica.js';

/** Options of {@link PostgresEventStore}. Give `pool` or `connectionString`. */
export interface PostgresEventStoreOptions extends ConnectionOptions, PoolerOptions {
  /** A hot-standby replica to read the global log from (see `replica.ts` and the README). */
  replica?: ReplicaOptions;
  /** Schema that holds the store's tables (see {@link validateSchemaName}). Default `ordo`. */
  schema?: string;
  /** Limits checked before anything is sent (see `AppendLimits` in `@ordo/core`). */
  limits?: Partial<AppendLimits>;
  /**
   * Largest total JSON size of one append's events, in UTF-8 bytes, so that a batch always fits in
   * one statement. Default 128 MiB (the same as `limits.maxBatchBytes`, which it overrides).
   */
  maxBatchBytes?: number;
  /** How the store rides out a database that is briefly unreachable. */
  retry?: StoreRetryOptions;
  /**
   * How often an idle live subscription looks for new events on its own. Notifications wake it
   * at once; this is the fallback (a lost LISTEN connection, a transaction that held the log back
   * and ended without appending). Default 1000 ms; 250 ms behind a pooler without
   * `listenConnectionString`, where polling is the only wake-up from other instances.
   */
  pollIntervalMs?: number;
}

/** How long calls keep retrying while PostgreSQL is unreachable. */
export interface StoreRetryOptions {
  /**
   * Time in milliseconds in which a call whose connection failed (or could not be made) is run
   * again, before it fails with `StoreUnavailableError` (nothing written) or
   * `AppendOutcomeUnknownError` (an append was sent, its answer lost). Default 10,000.
   */
  windowMs?: number;
}

const DEFAULT_RETRY_WINDOW_MS = 10_000;
const PAGE_SIZE = 500;
const INT8_MAX = 9223372036854775807n;
const INT8_MIN = -9223372036854775808n;

/** A bigint within PostgreSQL's bigint: positions and versions beyond it match nothing anyway. */
function clampInt8(value: bigint): bigint {
  return value > INT8_MAX ? INT8_MAX : value < INT8_MIN ? INT8_MIN : value;
}
/** Tries of one append before its error reaches the caller. */
export const MAX_APPEND_ATTEMPTS = 20;
/** Interleaved attempts after which an append draws its positions with the others kept out. */
export const EXCLUSIVE_AFTER_INTERLEAVED = 2;
const NO_LIMIT = null;

interface AppendRow {
  status: 'ok' | 'retried' | 'conflict' | 'duplicate' | 'interleaved';
  version: string | null;
  last_position: string | null;
  duplicate_id: string | null;
}

interface EventRow {
  global_position: string;
  event_id: string;
  stream_name: string;
  stream_version: string;
  event_type: string;
  data: unknown;
  metadata: Record<string, unknown>;
  /** Milliseconds since the epoch (text), so that no global type parser decides what it becomes. */
  recorded_ms: string;
}

/**
 * The PostgreSQL {@link EventStore}.
 *
 * - Appends are one call of a SQL function (one round trip, one transaction) that checks the
 *   expected version and retried ids under a per-stream lock before it draws global positions.
 * - The global log (`readAll`, `subscribeToAll`, `headPosition`) shows only events of transactions
 *   older than every transaction still running, so a reader never passes an event that has yet to
 *   commit. A long-running transaction therefore holds subscribers back until it ends.
 * - Live subscriptions are woken by LISTEN/NOTIFY on one extra connection (every store notifies
 *   after its appends commit), and poll as a fallback.
 *
 * Call {@link migrate} once at start-up (safe to call from every instance at once).
 */
export class PostgresEventStore implements EventStore {
  /** The pool the store runs its statements on. */
  readonly pool: pg.Pool;
  /** The schema of the store's tables. */
  readonly schema: string;
  private readonly ownsPool: boolean;
  private readonly names: SchemaNames;
  private readonly sql: ReturnType<typeof statements>;
  private readonly limits: AppendLimits;
  private readonly retryWindowMs: number;
  private readonly pollIntervalMs: number;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;
  // Pooler and replica hooks (see pooler.ts, replica.ts).
  private readonly listens: boolean;
  private readonly listenConnectionString: string | undefined;
  private readonly log: LogReader;

  // Live wake-ups: every notification (and every (re)connect of the listener) bumps `wakeCount`.
  private wakeCount = 0;
  private readonly wakers = new Set<() => void>();
  private notifying: 'idle' | 'sending' | 'again' = 'idle';
  private notificationSent: Promise<void> = Promise.resolve();
  private listener: pg.Client | undefined;
  private listenerStarting: Promise<void> | undefined;
  private listenerRetry: ReturnType<typeof setTimeout> | undefined;

  /**
   * @throws ValidationError for a bad schema name.
   * @throws TypeError when neither `pool` nor `connectionString` is given.
   */
  constructor(options: PostgresEventStoreOptions) {
    this.schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
    this.names = schemaNames(this.schema);
    const plan = poolerPlan(options);
    this.sql = withStatementNames(statements(this.names), plan.preparedStatements);
    this.listens = plan.listens;
    this.listenConnectionString = options.listenConnectionString;
    this.limits = {
      ...DEFAULT_APPEND_LIMITS,
      ...options.limits,
      ...(options.maxBatchBytes !== undefined && { maxBatchBytes: options.maxBatchBytes }),
    };
    this.retryWindowMs = Math.max(0, options.retry?.windowMs ?? DEFAULT_RETRY_WINDOW_MS);
    this.pollIntervalMs = options.pollIntervalMs ?? plan.defaultPollIntervalMs;
    const connection = connect(options);
    this.pool = connection.pool;
    this.ownsPool = connection.owned;
    this.log = logReader(this.pool, options.replica);
  }

  /**
   * Creates or upgrades the schema: versioned migrations under an advisory lock, so several
   * instances may call it at once, and calling it again does nothing.
   * @returns the migration versions this call applied (empty when the schema was up to date).
   */
  async migrate(): Promise<number[]> {
    this.assertOpen();
    return migrateSchema(this.pool, this.names);
  }

  /**
   * Appends `events` to `stream` in one statement if the stream matches `options.expectedVersion`.
   * A retry of a stored batch returns its original result and writes nothing.
   * @throws ValidationError before any statement, for bad input; nothing is written.
   * @throws WrongExpectedVersionError when the stream does not match; nothing is written.
   * @throws DuplicateEventIdError when an id is stored elsewhere; nothing is written.
   */
  async appendToStream(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    const expected = options?.expectedVersion;
    const valid = validateAppend(stream, events, expected, this.limits);
    const values = [
      stream,
      typeof expected === 'bigint' ? 'version' : expected,
      typeof expected === 'bigint' ? expected.toString() : null,
      valid.map((e) => e.id),
      valid.map((e) => e.type),
      valid.map((e) => JSON.stringify(e.data)),
      valid.map((e) => JSON.stringify(e.metadata ?? {})),
    ];

    const deadline = Date.now() + this.retryWindowMs;
    /** A try was sent and its connection failed before the answer: that try may have committed. */
    let maybeStored = false;
    let interleaved = 0;
    let raced = 0;
    for (let attempt = 1; ; attempt++) {
      let row: AppendRow;
      // After drawing positions at the same moment as other appends twice, draw them alone.
      const exclusive = interleaved >= EXCLUSIVE_AFTER_INTERLEAVED;
      let sent = false;
      try {
        // A client checked out explicitly: a failed statement does not cost the pool a connection.
        row = await withClient(this.pool, async (client) => {
          sent = true;
          const result = await client.query<AppendRow>({
            name: this.sql.appendName,
            text: this.sql.append,
            values: [...values, exclusive],
            types: STORE_TYPES,
          });
          return result.rows[0]!;
        });
      } catch (error) {
        // A unique violation, deadlock or serialization failure means another transaction got
        // there first and has now ended: run the append again, and it sees what that one did.
        if (isRetryableAppendError(error) && ++raced < MAX_APPEND_ATTEMPTS) {
          await sleep(Math.random() * Math.min(50, 2 ** raced));
          continue;
        }
        // A lost connection leaves unknown whether a sent append committed: running it again is
        // safe, as a committed batch is recognised by its ids and answered with its result.
        if (isTransient(error)) {
          maybeStored ||= sent;
          if (Date.now() < deadline) {
            await sleep(Math.min(deadline - Date.now(), backoffMs(attempt)));
            continue;
          }
          throw outageError(error, stream, maybeStored, this.retryWindowMs);
        }
        throw await this.appendFailure(error, stream, expected);
      }
      switch (row.status) {
        case 'ok':
          this.notifyAppended();
          return { nextExpectedVersion: BigInt(row.version!), lastGlobalPosition: BigInt(row.last_position!), duplicate: false };
        case 'retried':
          // After a lost answer, the stored batch is most likely this call's own earlier try.
          return { nextExpectedVersion: BigInt(row.version!), lastGlobalPosition: BigInt(row.last_position!), duplicate: !maybeStored };
        case 'conflict':
          throw new WrongExpectedVersionError(stream, expected, row.version === null ? null : BigInt(row.version));
        case 'duplicate':
          throw new DuplicateEventIdError(stream, row.duplicate_id!);
        case 'interleaved':
          // Nothing was written: draw again (the function drew alone once asked to).
          interleaved++;
          if (interleaved < MAX_APPEND_ATTEMPTS) continue;
          throw new Error(`Could not draw global positions for an append to "${stream}" in ${attempt} attempts`);
        default:
          throw new Error(`append_events returned an unknown status ${String(row.status)}`);
      }
    }
  }

  /**
   * Runs a read, again after connection failures until the retry window has passed.
   * @throws StoreUnavailableError once the window has passed (reads write nothing).
   */
  private async retrying<T>(read: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryWindowMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (error) {
        if (!isTransient(error)) throw error;
        if (Date.now() >= deadline || this.closed) throw outageError(error, undefined, false, this.retryWindowMs);
        await sleep(Math.min(deadline - Date.now(), backoffMs(attempt)));
      }
    }
  }

  /**
   * Appends to several streams atomically: one call of the `append_multi` SQL function, which
   * checks every stream as {@link appendToStream} does and writes all or nothing (see `append-multi.ts`).
   */
  async appendToStreams(requests: readonly StreamAppendRequest[]): Promise<MultiStreamAppendResult> {
    this.assertOpen();
    const { pool, names, limits, retryWindowMs } = this;
    return appendToStreamsInPostgres({ pool, names, limits, maxBatchBytes: limits.maxBatchBytes, retryWindowMs, appended: () => this.notifyAppended() }, requests);
  }

  /** What a caller gets when an append failed in the database and retrying did not help. */
  private async appendFailure(error: unknown, stream: string, expected: ExpectedVersion): Promise<unknown> {
    const state = sqlState(error);
    if (state === '23505') {
      const { constraint, detail } = asDatabaseError(error);
      const id = /\(event_id\)=\(([0-9a-f-]{36})\)/i.exec(detail ?? '')?.[1];
      if (constraint === 'events_event_id_key' && id) return new DuplicateEventIdError(stream, id.toLowerCase());
    }
    if (state === '23505' || state === '40001' || state === '40P01') {
      // The stream kept changing under this append: report it as a conflict, which callers
      // handle by reading again and deciding again.
      const actual = await this.readStream(stream, { maxCount: 0 }).then((r) => r.version, () => null);
      return new WrongExpectedVersionError(stream, expected, actual, MAX_APPEND_ATTEMPTS);
    }
    return error;
  }

  /**
   * Reads a stream forwards (default) or backwards from a version; a missing stream reads as
   * `{ version: null, events: [] }`. `version` is always the stream's current version.
   * @throws ValidationError for a bad stream name, before any statement.
   */
  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    this.assertOpen();
    validateReadStream(stream, options);
    const backwards = options.direction === 'backwards';
    const from = options.fromVersion ?? (backwards ? INT8_MAX : 0n);
    const maxCount = options.maxCount === undefined || options.maxCount === Number.POSITIVE_INFINITY ? NO_LIMIT : options.maxCount;
    const { rows } = await this.retrying(() =>
      this.pool.query<EventRow & { head: string } & Partial<EventRow>>({
        name: backwards ? this.sql.readStreamBackwardsName : this.sql.readStreamName,
        text: backwards ? this.sql.readStreamBackwards : this.sql.readStream,
        values: [stream, from.toString(), maxCount],
        types: STORE_TYPES,
      }),
    );
    if (rows.length === 0) return { version: null, events: [] };
    return {
      version: BigInt(rows[0]!.head),
      events: rows.filter((r) => r.global_position !== null).map(toRecordedEvent),
    };
  }

  /**
   * The global log after `options.after`, in position order, up to the visibility horizon: events
   * of transactions that may still commit are never passed (see the package README).
   */
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    validateReadAll(options);
    let after = options.after ?? START;
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      const requested = Math.min(PAGE_SIZE, remaining);
      const page = await this.retrying(() => this.readPage(after, options.filter, requested));
      for (const event of page.events) yield event;
      remaining -= page.events.length;
      // A page that is not full reached the head of the log as it was when it was read.
      if (page.events.length < requested) return;
      after = page.position;
    }
  }

  /** The last position a reader can see (the visibility horizon), or `START` for an empty log. */
  async headPosition(): Promise<bigint> {
    this.assertOpen();
    const { rows } = await this.retrying(() =>
      this.pool.query<{ head: string }>({ name: this.sql.headName, text: this.sql.head, types: STORE_TYPES }),
    );
    return BigInt(rows[0]!.head);
  }

  /**
   * Resolves once the global log as `readAll` and subscriptions read it (the replica's, when the
   * store has one) shows `position`, e.g. an append's `lastGlobalPosition`: read-your-writes for
   * log readers on a replica. Without a replica it checks the primary's log.
   * @throws ReplicaLagError when the replica has not replayed it within `timeoutMs` (default 5 s).
   */
  async waitForReplica(position: bigint, options?: ReplicaWaitOptions): Promise<void> {
    this.assertOpen();
    await waitForReplay(this.log, { name: this.sql.headName, text: this.sql.head }, position, options);
  }

  /**
   * Catch-up from `options.after`, then live: woken by notifications, polling every
   * `pollIntervalMs` as a fallback. Survives dropped connections (it reads again).
   */
  subscribeToAll(options: SubscribeOptions): Subscription {
    this.assertOpen();
    validateReadAll({ ...(options.after !== undefined && { after: options.after }), ...(options.filter !== undefined && { filter: options.filter }) }, 'subscription');
    if (this.listens) this.ensureListener();
    const stopped = new AbortController();
    let seen = this.wakeCount;
    const source: LogSource = {
      readPage: async (after, filter, maxCount) => {
        for (let attempt = 1; ; attempt++) {
          seen = this.wakeCount;
          try {
            return await this.readPage(after, filter, maxCount);
          } catch (error) {
            // A subscription outlives a database restart or a dropped connection: read again.
            if (!isTransient(error) || stopped.signal.aborted || this.closed) throw error;
            options.onReadRetry?.(error);
            await sleep(Math.min(this.pollIntervalMs, 50 * 2 ** attempt), stopped.signal);
            if (stopped.signal.aborted) return { events: [], position: after };
          }
        }
      },
      waitForEvents: (_position, signal) => this.waitForWake(seen, signal),
    };
    const inner = runSubscription(source, options);
    const subscription: Subscription = {
      done: inner.done,
      stop: async () => {
        stopped.abort();
        await inner.stop();
      },
    };
    this.subscriptions.add(subscription);
    void inner.done.then(() => {
      stopped.abort();
      this.subscriptions.delete(subscription);
      if (this.subscriptions.size === 0) void this.stopListener(true);
    });
    return subscription;
  }

  /**
   * Stops the store's subscriptions and its LISTEN connection, and ends the pool if the store made
   * it. A pool given by the service is left open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.stopListener();
    await this.notificationSent;
    if (this.ownsPool) await this.pool.end();
  }

  // ---- the global log ---------------------------------------------------------------------

  /**
   * Up to `maxCount` events after `after` that pass `filter`, all below the visibility horizon;
   * `position` is where the next read goes on from (the horizon, when the page was not full).
   */
  private async readPage(
    after: bigint,
    filter: LogFilter | undefined,
    maxCount: number,
  ): Promise<{ events: RecordedEvent[]; position: bigint }> {
    const types = filter?.eventTypes && filter.eventTypes.length > 0 ? [...filter.eventTypes] : undefined;
    const prefixes = filter?.streamPrefixes && filter.streamPrefixes.length > 0 ? [...filter.streamPrefixes] : undefined;
    const query = this.sql.readLog(types !== undefined, prefixes !== undefined);
    const values: unknown[] = [clampInt8(after).toString(), maxCount];
    if (types) values.push(types);
    if (prefixes) values.push(prefixes);
    const { rows } = await this.log.query<EventRow & { head: string }>({ name: query.name, text: query.text, values, types: STORE_TYPES });
    const head = BigInt(rows[0]!.head);
    const events = rows.filter((r) => r.global_position !== null).map(toRecordedEvent);
    const position = events.length === maxCount ? events[events.length - 1]!.globalPosition : head > after ? head : after;
    return { events, position };
  }

  // ---- live wake-ups ----------------------------------------------------------------------

  /**
   * Tells listeners (in every process) that an append committed. Sent after the commit, from
   * outside the appending transaction: a NOTIFY inside it would hold PostgreSQL's database-wide
   * notification lock through the commit's flush, so appends would commit one at a time.
   * Coalesced: while one notification is on its way, later appends ask for one more, sent after
   * it, so every commit is followed by a notification that starts after it.
   */
  private notifyAppended() {
    this.wake();
    if (this.closed) return;
    if (this.notifying !== 'idle') {
      this.notifying = 'again';
      return;
    }
    this.notifying = 'sending';
    const send = async (): Promise<void> => {
      await this.pool.query({ name: this.sql.notifyName, text: this.sql.notify }).catch(() => undefined);
      if (this.notifying === 'again' && !this.closed) {
        this.notifying = 'sending';
        return send();
      }
      this.notifying = 'idle';
    };
    this.notificationSent = send();
  }

  private wake() {
    this.wakeCount++;
    for (const wake of [...this.wakers]) wake();
  }

  /** Resolves on a notification newer than `seen`, after the poll interval, or on abort. */
  private waitForWake(seen: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted || this.wakeCount !== seen) return resolve();
      const timer = setTimeout(done, this.pollIntervalMs);
      const wakers = this.wakers;
      function done() {
        clearTimeout(timer);
        wakers.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      }
      wakers.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private ensureListener() {
    if (this.listener || this.listenerStarting || this.closed) return;
    const client = listenClient(this.pool, this.listenConnectionString);
    this.listener = client;
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      // Subscriptions poll meanwhile; wake them so none sleeps on a dead connection.
      this.wake();
      if (!this.closed && this.subscriptions.size > 0 && !this.listenerRetry) {
        this.listenerRetry = setTimeout(() => {
          this.listenerRetry = undefined;
          if (!this.closed && this.subscriptions.size > 0) this.ensureListener();
        }, this.pollIntervalMs);
      }
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === this.names.channel) this.wake();
    });
    this.listenerStarting = (async () => {
      try {
        await client.connect();
        await client.query(`listen "${this.names.channel}"`);
        // Whatever committed before LISTEN took effect is found by the read this triggers.
        this.wake();
      } catch {
        lost();
      } finally {
        this.listenerStarting = undefined;
      }
    })();
  }

  /** Closes the LISTEN connection: on `close()`, or when no subscription needs it any more. */
  private async stopListener(onlyIfUnused = false) {
    await this.listenerStarting;
    // A subscription may have started while this waited: it needs the connection.
    if (onlyIfUnused && this.subscriptions.size > 0) return;
    if (this.listenerRetry) clearTimeout(this.listenerRetry);
    this.listenerRetry = undefined;
    const client = this.listener;
    this.listener = undefined;
    if (!client) return;
    client.removeAllListeners('notification');
    await client.end().catch(() => undefined);
  }

  private assertOpen() {
    if (this.closed) throw new Error('PostgresEventStore is closed');
  }
}

/** Errors after which running an append again sees what the other transaction did. */
export function isRetryableAppendError(error: unknown): boolean {
  const state = sqlState(error);
  return state === '23505' || state === '40001' || state === '40P01';
}

/** The next pause of a retry loop: exponential with full jitter, at most a second. */
export function backoffMs(attempt: number): number {
  return Math.random() * Math.min(1000, 25 * 2 ** attempt);
}

/** The typed error for a connection failure that outlasted the retry window. */
export function outageError(cause: unknown, stream: string | undefined, maybeStored: boolean, windowMs: number): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (maybeStored && stream !== undefined) {
    return new AppendOutcomeUnknownError(
      stream,
      `An append to "${stream}" was sent but its answer was lost (${reason}), and PostgreSQL stayed unreachable for ${windowMs} ms; ` +
        'the events may or may not be stored: send the same append again to find out (a stored batch is absorbed)',
      { cause },
    );
  }
  return new StoreUnavailableError(`PostgreSQL stayed unreachable for ${windowMs} ms (${reason}); nothing was written`, { cause });
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
    streamName: row.stream_name,
    streamVersion: BigInt(row.stream_version),
    globalPosition: BigInt(row.global_position),
    recordedAt: new Date(Number(row.recorded_ms)),
  };
}

/** Columns of an event row, inside the lateral subqueries. */
const EVENT_COLUMNS = 'e.global_position, e.event_id, e.stream_name, e.stream_version, e.event_type, e.data, e.metadata, e.recorded_at';
/** The same, as the store reads them. */
const EVENT_RESULT_COLUMNS =
  'e.global_position, e.event_id, e.stream_name, e.stream_version, e.event_type, e.data, e.metadata, ' +
  'floor(extract(epoch from e.recorded_at) * 1000)::int8 as recorded_ms';

/** Every statement the store runs, written once per schema. */
function statements({ q, statementKey: key, channel }: SchemaNames) {
  // The newest position of a transaction older than every running one. Positions are drawn in
  // transaction-id order (see append_events), so every event at or below it has committed (or
  // never will), and nothing can appear below it later.
  const horizon = `coalesce((
      select h.global_position from ${q}.events h
      where h.tx_id < pg_snapshot_xmin(pg_current_snapshot())
      order by h.tx_id desc, h.global_position desc
      limit 1), 0)`;

  const readLogCache = new Map<string, { name: string; text: string }>();
  const readLog = (byType: boolean, byPrefix: boolean) => {
    const filterKey = `${byType ? 't' : ''}${byPrefix ? 'p' : ''}`;
    let query = readLogCache.get(filterKey);
    if (!query) {
      const conditions = ['e.global_position > $1', 'e.global_position <= l.head'];
      let next = 3;
      if (byType) conditions.push(`e.event_type = any($${next++}::text[])`);
      if (byPrefix) {
        conditions.push(`exists (select 1 from unnest($${next++}::text[]) p(prefix) where starts_with(e.stream_name, p.prefix))`);
      }
      query = {
        name: `ordo_read_log_${key}_${filterKey}`,
        text: `select l.head, ${EVENT_RESULT_COLUMNS}
               from (select ${horizon} as head) l
               left join lateral (
                 select ${EVENT_COLUMNS} from ${q}.events e
                 where ${conditions.join(' and ')}
                 order by e.global_position
                 limit $2
               ) e on true
               order by e.global_position`,
      };
      readLogCache.set(filterKey, query);
    }
    return query;
  };

  const readStream = (direction: 'forwards' | 'backwards') => `
    select s.version as head, ${EVENT_RESULT_COLUMNS}
    from ${q}.streams s
    left join lateral (
      select ${EVENT_COLUMNS} from ${q}.events e
      where e.stream_name = s.stream_name and e.stream_version ${direction === 'forwards' ? '>=' : '<='} $2
      order by e.stream_version ${direction === 'forwards' ? 'asc' : 'desc'}
      limit $3
    ) e on true
    where s.stream_name = $1
    order by e.stream_version ${direction === 'forwards' ? 'asc' : 'desc'}`;

  return {
    appendName: `ordo_append_${key}`,
    append: `select status, version, last_position, duplicate_id
             from ${q}.append_events($1, $2, $3, $4::uuid[], $5::text[], $6::json[], $7::json[], $8)`,
    readStreamName: `ordo_read_stream_${key}`,
    readStream: readStream('forwards'),
    readStreamBackwardsName: `ordo_read_stream_back_${key}`,
    readStreamBackwards: readStream('backwards'),
    notifyName: `ordo_notify_${key}`,
    notify: `select pg_notify('${channel}', '')`,
    headName: `ordo_head_${key}`,
    head: `select ${horizon} as head`,
    readLog,
  };
}
