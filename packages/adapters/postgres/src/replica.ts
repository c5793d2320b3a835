import type pg from 'pg';
import { OrdoError, isOrdoError, sleep } from '@ordo/core';
import { STORE_TYPES, sqlState } from './connection.js';

/**
 * A streaming (hot standby) replica the store reads the global log from: `readAll` and the
 * catch-up and live reads of `subscribeToAll`. Appends, stream reads (command handling decides on
 * the primary's current versions), `headPosition` and checkpoints stay on the primary.
 */
export interface ReplicaOptions {
  /**
   * A pool on the replica, owned by the service (the store never ends it). Its connections only
   * read. `hot_standby_feedback = on` on the replica keeps its long reads from being cancelled.
   */
  pool: pg.Pool;
}

/** Where the store reads the global log: the replica's pool, or the primary's. */
export interface LogReader {
  readonly pool: pg.Pool;
  readonly onReplica: boolean;
  /** Runs a read of the log, again after a replica cancelled it to replay WAL. */
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig & { rowMode?: 'array' }): Promise<pg.QueryResult<R>>;
}

/** Reads that a standby cancelled for replay are run again this many times before failing. */
const RECOVERY_CONFLICT_TRIES = 5;

/** The reader of the global log for a store on `primary`, with or without a replica. */
export function logReader(primary: pg.Pool, replica: ReplicaOptions | undefined): LogReader {
  if (!replica) return { pool: primary, onReplica: false, query: (config) => primary.query(config) };
  if (!replica.pool || typeof (replica.pool as { query?: unknown }).query !== 'function') {
    throw new TypeError('replica.pool must be a pg.Pool on the replica');
  }
  const pool = replica.pool;
  return {
    pool,
    onReplica: true,
    async query<R extends pg.QueryResultRow>(config: pg.QueryConfig & { rowMode?: 'array' }) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await pool.query<R>(config);
        } catch (error) {
          // 40001 on a standby: "canceling statement due to conflict with recovery". Nothing was
          // read; the same read on a fresh snapshot is correct.
          if (sqlState(error) !== '40001' || attempt >= RECOVERY_CONFLICT_TRIES) throw error;
          await sleep(10 * attempt);
        }
      }
    },
  };
}

/**
 * The replica had not replayed a position within the time given: it lags the primary, or
 * replication has stopped. Nothing is wrong with the position; waiting longer may succeed.
 */
export class ReplicaLagError extends OrdoError {
  override name = 'ReplicaLagError';
  static override readonly code = 'replica_lag';
  constructor(
    /** The position waited for. */
    readonly position: bigint,
    /** The last position the replica's log showed. */
    readonly replicaHead: bigint,
    /** How long it was waited for. */
    readonly timeoutMs: number,
  ) {
    super(
      `The replica's global log had not reached position ${position} after ${timeoutMs} ms (it shows up to ${replicaHead}): ` +
        'the replica lags the primary or replication has stopped',
    );
  }
}

/** Whether `error` is a {@link ReplicaLagError}. */
export function isReplicaLagError(error: unknown): error is ReplicaLagError {
  return isOrdoError(error, ReplicaLagError.code);
}

/** Options of `waitForReplica`. */
export interface ReplicaWaitOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
  /** How often the replica is asked. Default 20 ms. */
  pollMs?: number;
}

/**
 * Resolves once the log as read by `reader` (the replica's visibility horizon) has reached
 * `position`, e.g. the `lastGlobalPosition` of an append: from then on, reads of the log show that
 * append and everything before it. Immediate without a replica once the primary shows it. After
 * `migrate()`, `waitForReplica(0n)` waits until the replica has the store's tables.
 * @throws ReplicaLagError after `timeoutMs`.
 */
export async function waitForReplay(
  reader: LogReader,
  head: { name: string; text: string },
  position: bigint,
  { timeoutMs = 5000, pollMs = 20 }: ReplicaWaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await replicaHead(reader, head);
    if (seen >= position) return;
    if (Date.now() >= deadline) throw new ReplicaLagError(position, seen, timeoutMs);
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}

/** The head of the log as `reader` sees it; -1 while a replica has yet to replay the schema itself. */
async function replicaHead(reader: LogReader, head: { name: string; text: string }): Promise<bigint> {
  try {
    const { rows } = await reader.query<{ head: string }>({ name: head.name, text: head.text, types: STORE_TYPES });
    return BigInt(rows[0]!.head);
  } catch (error) {
    // 42P01 undefined table: a replica that has not replayed `migrate()` yet.
    if (reader.onReplica && sqlState(error) === '42P01') return -1n;
    throw error;
  }
}
