import pg from 'pg';
import { OrdoError, isOrdoError } from '@ordo/core';
import { dedicatedClient } from './connection.js';

/**
 * What sits between the store and PostgreSQL, as far as the store must know:
 *
 * - `'none'`: a direct connection (or a pooler in session mode, which behaves the same). Named
 *   prepared statements, and LISTEN on a connection made like the pool's.
 * - `'transaction'`: a pooler that hands out a server connection per transaction (PgBouncer
 *   `pool_mode = transaction`, most managed poolers). No named prepared statements, no LISTEN
 *   through it; migrations and checkpoint transactions work.
 * - `'statement'`: a server connection per statement. As `'transaction'`, and transactions of
 *   several statements cannot run at all: `migrate()` and checkpoint transactions fail with
 *   {@link PoolerModeError}; run them over a direct connection.
 */
export type PoolerMode = 'none' | 'transaction' | 'statement';

/** The options that decide how the store talks through a pooler. */
export interface PoolerOptions {
  /** What the pool connects through. Default `'none'`. */
  pooler?: PoolerMode;
  /**
   * Named (server-side) prepared statements: parsed once per connection. Default true with
   * `pooler: 'none'`, false behind a pooler, which may run the next statement on a server
   * connection that never saw the statement prepared.
   */
  preparedStatements?: boolean;
  /**
   * A direct connection (not through the pooler) for LISTEN, so live subscriptions wake as soon as
   * any instance appends. Behind a pooler without it, live subscriptions poll every
   * `pollIntervalMs` (default then 250 ms); they never skip an event either way.
   */
  listenConnectionString?: string;
}

/** How the store behaves, from {@link PoolerOptions}. */
export interface PoolerPlan {
  mode: PoolerMode;
  preparedStatements: boolean;
  /** Whether live subscriptions LISTEN (false: they poll). */
  listens: boolean;
  /** The poll interval when none is given. */
  defaultPollIntervalMs: number;
}

/** Decides the plan; pure. */
export function poolerPlan(options: PoolerOptions): PoolerPlan {
  const mode = options.pooler ?? 'none';
  if (mode !== 'none' && mode !== 'transaction' && mode !== 'statement') {
    throw new TypeError(`pooler must be 'none', 'transaction' or 'statement', not ${JSON.stringify(mode)}`);
  }
  const direct = mode === 'none';
  const listens = direct || (typeof options.listenConnectionString === 'string' && options.listenConnectionString.length > 0);
  return {
    mode,
    preparedStatements: options.preparedStatements ?? direct,
    listens,
    defaultPollIntervalMs: listens ? 1000 : 250,
  };
}

/**
 * The store's statements without their names when prepared statements are off: `pg` then sends
 * each as an unnamed statement, parsed, bound and run in one round trip on whatever server
 * connection the pooler lends.
 */
export function withStatementNames<T extends Record<string, unknown>>(sql: T, prepared: boolean): T {
  if (prepared) return sql;
  const unnamed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(sql)) {
    if (key.endsWith('Name') && typeof value === 'string') unnamed[key] = '';
    else if (typeof value === 'function') {
      unnamed[key] = (...args: unknown[]) => ({ ...(value as (...a: unknown[]) => object)(...args), name: '' });
    } else unnamed[key] = value;
  }
  return unnamed as T;
}

/** The connection a store LISTENs on: the configured direct one, or one made like the pool's. */
/** A statement as it is sent: under its name when statements may be prepared, unnamed otherwise. */
export function statementNamed<T extends { name: string }>(statement: T, prepared: boolean): T {
  return prepared ? statement : { ...statement, name: '' };
}

export function listenClient(pool: pg.Pool, listenConnectionString: string | undefined): pg.Client {
  if (listenConnectionString) return new pg.Client({ connectionString: listenConnectionString });
  return dedicatedClient(pool);
}

/**
 * Something the store was asked to do cannot work through the configured pooler (e.g. a migration,
 * a transaction of several statements, through a pooler in statement mode). The message names the
 * option or connection that fixes it; nothing was changed.
 */
export class PoolerModeError extends OrdoError {
  override name = 'PoolerModeError';
  static override readonly code = 'pooler_mode';
}

/** Whether `error` is a {@link PoolerModeError}. */
export function isPoolerModeError(error: unknown): error is PoolerModeError {
  return isOrdoError(error, PoolerModeError.code);
}

/**
 * The typed error for a multi-statement transaction a pooler refused, or `error` unchanged.
 * PgBouncer in statement mode closes the client with "transaction blocks not allowed in statement
 * pooling mode".
 */
export function poolerRefusal(error: unknown, what: string): unknown {
  const message = error instanceof Error ? error.message : '';
  if (!/not allowed in statement pooling mode|statement pooling/i.test(message)) return error;
  return new PoolerModeError(
    `${what} needs a transaction of several statements, which a pooler in statement mode refuses (${message}). ` +
      'Run it over a direct connection (a store or checkpoint store made with the direct `connectionString` or `pool`), ' +
      "or through a pooler in transaction or session mode (`pooler: 'transaction'`).",
    { cause: error },
  );
}
