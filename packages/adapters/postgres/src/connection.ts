import pg from 'pg';
import type { Logger } from '@ordo/core';

/** How a store reaches PostgreSQL: the service's own pool, or a connection string. */
export interface ConnectionOptions {
  /**
   * The service's pool. The store borrows connections from it and never ends it: the service
   * owns it. One extra connection, outside the pool but with the pool's settings, is opened for
   * LISTEN while live subscriptions run.
   */
  pool?: pg.Pool;
  /** Used when no `pool` is given: the store makes its own pool and ends it on `close()`. */
  connectionString?: string;
  /** Settings for the pool the store makes from `connectionString` (e.g. `max`, `ssl`). */
  poolConfig?: Omit<pg.PoolConfig, 'connectionString'>;
  /**
   * Where the store reports what it survives on its own, such as an idle pooled connection that
   * died (at warn). Default: silent. A pino logger fits as is.
   */
  logger?: Logger;
}

/** A pool and whether the store must end it. */
export interface Connection {
  pool: pg.Pool;
  owned: boolean;
}

export function connect(options: ConnectionOptions): Connection {
  if (options.pool) {
    hearClientErrors(options.pool);
    return { pool: options.pool, owned: false };
  }
  if (typeof options.connectionString === 'string' && options.connectionString.length > 0) {
    const pool = new pg.Pool({ ...options.poolConfig, connectionString: options.connectionString });
    // An idle connection that dies (a server restart, a terminated backend) is dropped by the pool
    // and replaced on the next check-out. The pool reports it as an 'error' event, which would
    // crash the process if nobody listened; it is logged, not swallowed.
    pool.on('error', (error) => options.logger?.warn({ err: error }, 'idle PostgreSQL connection lost; the pool replaces it'));
    hearClientErrors(pool);
    return { pool, owned: true };
  }
  throw new TypeError('Give either `pool` (a pg.Pool) or `connectionString`');
}

const heard = new WeakSet<pg.Pool>();

/**
 * Gives every client the pool makes an 'error' listener of its own. A checked-out client is heard
 * by whoever checked it out, but only from the moment their code runs again: a connection that dies
 * in between (a server shutting down) would emit an unheard 'error' and crash the process. The
 * failure itself still reaches the caller through the query it breaks, and the pool drops the client.
 */
function hearClientErrors(pool: pg.Pool): void {
  if (heard.has(pool)) return;
  heard.add(pool);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
}

/**
 * A client outside the pool, made with the pool's own settings (and its `Client` class), for a
 * connection that LISTENs and so must not be shared.
 */
export function dedicatedClient(pool: pg.Pool): pg.Client {
  const ClientClass = ((pool as unknown as { Client?: typeof pg.Client }).Client ?? pg.Client) as typeof pg.Client;
  return new ClientClass(pool.options as pg.ClientConfig);
}

interface DatabaseErrorLike {
  code?: string;
  constraint?: string;
  detail?: string;
  severity?: string;
}

/** The SQLSTATE of a PostgreSQL error, if `error` is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as DatabaseErrorLike | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function asDatabaseError(error: unknown): DatabaseErrorLike {
  return (error ?? {}) as DatabaseErrorLike;
}

/**
 * True when a connection that raised `error` must not go back to the pool: the error did not come
 * from a statement (the socket failed), or the server is closing the session.
 */
export function breaksConnection(error: unknown): boolean {
  const state = sqlState(error);
  if (!state || (error as DatabaseErrorLike).severity === undefined) return true;
  return state.startsWith('08') || state.startsWith('57P') || (error as DatabaseErrorLike).severity === 'FATAL';
}

/** True for errors after which the same statement can simply be run again. */
export function isTransient(error: unknown): boolean {
  const state = sqlState(error);
  if (state === undefined) {
    // The driver's own errors: a socket that failed, a connection the server closed, a pool that
    // could not connect in time.
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code)) return true;
    const message = error instanceof Error ? error.message : '';
    return /connection terminated|timeout exceeded when trying to connect|connection ended/i.test(message);
  }
  return state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03' || state === '53300';
}

/**
 * Checks a client out of `pool` for `use`, and gives it back: intact, or destroyed when its
 * connection failed. While checked out, the client's own 'error' events (a connection the server
 * closed) are caught here: the pool listens only to idle clients, and an unheard 'error' event
 * would crash the process.
 */
export async function checkedOut<T>(
  pool: pg.Pool,
  use: (client: pg.PoolClient, markBroken: (error: unknown) => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const markBroken = (error: unknown) => {
    broken ??= error instanceof Error ? error : new Error(String(error));
  };
  client.on('error', markBroken);
  try {
    return await use(client, markBroken);
  } finally {
    client.off('error', markBroken);
    client.release(broken);
  }
}

/** Runs `work` on a connection checked out of `pool`, and gives the connection back intact. */
export function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return checkedOut(pool, async (client, markBroken) => {
    try {
      return await work(client);
    } catch (error) {
      if (breaksConnection(error)) markBroken(error);
      throw error;
    }
  });
}

const asText = (value: string) => value;

/**
 * How the store reads result columns, whatever type parsers the service set globally on `pg`
 * (int8 as numbers, timestamps as strings, …): JSON is parsed, everything else stays text and the
 * store converts it itself (int8 → bigint, epoch milliseconds → Date).
 */
export const STORE_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number) => (oid === 114 || oid === 3802 ? JSON.parse : asText)) as pg.CustomTypesConfig['getTypeParser'],
};
