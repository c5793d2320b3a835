import {
  DEFAULT_APPEND_LIMITS,
  START,
  runSubscription,
  sleep,
  validateReadAll,
  validateReadStream,
  type AppendLimits,
  type AppendOptions,
  type AppendResult,
  type EventStore,
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
import type pg from 'pg';
import { appendStatements, appendToStreamInPostgres, type AppendContext, type AppendStatements } from './append.js';
import { appendToStreamsInPostgres } from './append-multi.js';
import { connect, isTransient, type ConnectionOptions } from './connection.js';
import { globalLogStatements, readHeadPosition, readLogPage, type GlobalLogStatements } from './global-log.js';
import { readStreamRows, retryingRead, streamReadStatements, type StreamReadStatements } from './reads.js';
import { DEFAULT_SCHEMA, migrateSchema, schemaNames, validateSchemaName, type SchemaNames } from './schema.js';
import { WakeUps } from './wake-ups.js';
import { poolerPlan, statementNamed, type PoolerOptions } from './pooler.js';
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
   * and ended without appending). Default 1000 ms.
   */
  pollIntervalMs?: number;
  /**
   * Least time between two of the store's notifications to live subscribers in other processes.
   * The first append after a quiet spell is notified at once; appends that follow within this time
   * share one notification at its end, so a subscriber elsewhere hears of an append at most this
   * much later, and a busy store spends little on notifying. `0`: one after every append (still
   * coalesced while one is being sent). Subscribers in this process are woken at once regardless.
   * Default 10 ms.
   */
  notifyIntervalMs?: number;
}

/** The default of {@link PostgresEventStoreOptions.notifyIntervalMs}. */
export const DEFAULT_NOTIFY_INTERVAL_MS = 10;

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
  private readonly limits: AppendLimits;
  private readonly retryWindowMs: number;
  private readonly pollIntervalMs: number;
  private readonly appendSql: AppendStatements;
  private readonly streamSql: StreamReadStatements;
  private readonly logSql: GlobalLogStatements;
  private readonly wakeUps: WakeUps;
  private readonly appendContext: AppendContext;
  /** Where the global log is read: the replica's pool when the store has one. */
  private readonly log: LogReader;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  /**
   * @throws ValidationError for a bad schema name.
   * @throws TypeError when neither `pool` nor `connectionString` is given.
   */
  constructor(options: PostgresEventStoreOptions) {
    this.schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
    this.names = schemaNames(this.schema);
    this.limits = {
      ...DEFAULT_APPEND_LIMITS,
      ...options.limits,
      ...(options.maxBatchBytes !== undefined && { maxBatchBytes: options.maxBatchBytes }),
    };
    this.retryWindowMs = Math.max(0, options.retry?.windowMs ?? DEFAULT_RETRY_WINDOW_MS);
    const plan = poolerPlan(options);
    this.pollIntervalMs = options.pollIntervalMs ?? plan.defaultPollIntervalMs;
    const connection = connect(options);
    this.pool = connection.pool;
    this.ownsPool = connection.owned;
    this.log = logReader(this.pool, options.replica);
    // Behind a transaction-mode pooler no statement is prepared under a name (see pooler.ts).
    const named = <T extends { name: string }>(statement: T) => statementNamed(statement, plan.preparedStatements);
    const statements = appendStatements(this.names);
    this.appendSql = { one: named(statements.one), many: named(statements.many) };
    const reads = streamReadStatements(this.names);
    this.streamSql = { forwards: named(reads.forwards), backwards: named(reads.backwards) };
    const log = globalLogStatements(this.names);
    this.logSql = { head: named(log.head), page: (byType, byPrefix) => named(log.page(byType, byPrefix)) };
    this.wakeUps = new WakeUps({
      pool: this.pool,
      names: this.names,
      pollIntervalMs: this.pollIntervalMs,
      notifyIntervalMs: Math.max(0, options.notifyIntervalMs ?? DEFAULT_NOTIFY_INTERVAL_MS),
      closed: () => this.closed,
      listening: () => this.subscriptions.size > 0,
      listens: plan.listens,
      listenConnectionString: options.listenConnectionString,
      preparedStatements: plan.preparedStatements,
    });
    const { pool, names, limits, retryWindowMs } = this;
    this.appendContext = { pool, names, limits, retryWindowMs, appended: () => this.wakeUps.appended(), oneEventFunction: true };
  }

  /**
   * Creates or upgrades the schema: versioned migrations under an advisory lock, so several
   * instances may call it at once, and calling it again does nothing.
   * @returns the migration versions this call applied (empty when the schema was up to date).
   */
  async migrate(): Promise<number[]> {
    this.assertOpen();
    const applied = await migrateSchema(this.pool, this.names);
    this.appendContext.oneEventFunction = true;
    return applied;
  }

  /**
   * Appends `events` to `stream` in one statement if the stream matches `options.expectedVersion`.
   * A retry of a stored batch returns its original result and writes nothing (see `append.ts`).
   * @throws ValidationError before any statement, for bad input; nothing is written.
   * @throws WrongExpectedVersionError when the stream does not match; nothing is written.
   * @throws DuplicateEventIdError when an id is stored elsewhere; nothing is written.
   */
  async appendToStream(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    const currentVersion = async (name: string) => (await this.readStream(name, { maxCount: 0 })).version;
    return appendToStreamInPostgres(this.appendContext, this.appendSql, currentVersion, stream, events, options);
  }

  /**
   * Appends to several streams atomically: one call of the `append_multi` SQL function, which
   * checks every stream as {@link appendToStream} does and writes all or nothing (see `append-multi.ts`).
   */
  async appendToStreams(requests: readonly StreamAppendRequest[]): Promise<MultiStreamAppendResult> {
    this.assertOpen();
    return appendToStreamsInPostgres({ ...this.appendContext, maxBatchBytes: this.limits.maxBatchBytes }, requests);
  }

  /**
   * Reads a stream forwards (default) or backwards from a version; a missing stream reads as
   * `{ version: null, events: [] }`. `version` is always the stream's current version.
   * @throws ValidationError for a bad stream name, before any statement.
   */
  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    this.assertOpen();
    validateReadStream(stream, options);
    return this.retrying(() => readStreamRows(this.pool, this.streamSql, stream, options));
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
      const page = await this.retrying(() => readLogPage(this.log, this.logSql, after, options.filter, requested));
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
    return this.retrying(() => readHeadPosition(this.pool, this.logSql));
  }

  /**
   * Resolves once the global log as `readAll` and subscriptions read it (the replica's, when the
   * store has one) shows `position`, e.g. an append's `lastGlobalPosition`: read-your-writes for
   * log readers on a replica. Without a replica it checks the primary's log.
   * @throws ReplicaLagError when the replica has not replayed it within `timeoutMs` (default 5 s).
   */
  async waitForReplica(position: bigint, options?: ReplicaWaitOptions): Promise<void> {
    this.assertOpen();
    await waitForReplay(this.log, this.logSql.head, position, options);
  }

  /**
   * Catch-up from `options.after`, then live: woken by notifications, polling every
   * `pollIntervalMs` as a fallback. Survives dropped connections (it reads again).
   */
  subscribeToAll(options: SubscribeOptions): Subscription {
    this.assertOpen();
    validateReadAll({ ...(options.after !== undefined && { after: options.after }), ...(options.filter !== undefined && { filter: options.filter }) }, 'subscription');
    this.wakeUps.ensureListener();
    const stopped = new AbortController();
    let seen = this.wakeUps.seen;
    const source: LogSource = {
      readPage: async (after, filter, maxCount) => {
        for (let attempt = 1; ; attempt++) {
          seen = this.wakeUps.seen;
          try {
            return await readLogPage(this.log, this.logSql, after, filter, maxCount);
          } catch (error) {
            // A subscription outlives a database restart or a dropped connection: read again.
            if (!isTransient(error) || stopped.signal.aborted || this.closed) throw error;
            options.onReadRetry?.(error);
            await sleep(Math.min(this.pollIntervalMs, 50 * 2 ** attempt), stopped.signal);
            if (stopped.signal.aborted) return { events: [], position: after };
          }
        }
      },
      waitForEvents: (_position, signal) => this.wakeUps.waitForWake(seen, signal),
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
      if (this.subscriptions.size === 0) void this.wakeUps.stopListener(true);
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
    await this.wakeUps.stopListener();
    await this.wakeUps.flushNotifications();
    if (this.ownsPool) await this.pool.end();
  }

  /** Runs a read, again after connection failures until the retry window has passed. */
  private retrying<T>(read: () => Promise<T>): Promise<T> {
    return retryingRead(this.retryWindowMs, () => this.closed, read);
  }

  private assertOpen() {
    if (this.closed) throw new Error('PostgresEventStore is closed');
  }
}
