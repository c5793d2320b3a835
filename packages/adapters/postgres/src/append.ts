import type pg from 'pg';
import {
  AppendOutcomeUnknownError,
  DuplicateEventIdError,
  StoreUnavailableError,
  WrongExpectedVersionError,
  sleep,
  serializeAppend,
  type AppendLimits,
  type AppendOptions,
  type AppendResult,
  type ExpectedVersion,
  type NewEvent,
} from '@ordo/core';
import { STORE_TYPES, asDatabaseError, isTransient, sqlState, withClient } from './connection.js';
import type { SchemaNames } from './schema.js';

/** PostgreSQL's answer to a call of a function that does not exist. */
const UNDEFINED_FUNCTION = '42883';

/** Tries of one append before its error reaches the caller. */
export const MAX_APPEND_ATTEMPTS = 20;
/** Interleaved attempts after which an append draws its positions with the others kept out. */
export const EXCLUSIVE_AFTER_INTERLEAVED = 2;

/** What an append runs on: the store's pool, schema, limits, retry window and wake-up. */
export interface AppendContext {
  pool: pg.Pool;
  names: SchemaNames;
  limits: AppendLimits;
  /** How long connection failures are retried before a typed outage error (the store's `retry.windowMs`). */
  retryWindowMs: number;
  /** Called after an append committed, so that listeners are told. */
  appended(): void;
  /**
   * False once the database answered that `append_event` does not exist (a schema older than
   * migration 4, not migrated yet): one-event appends then use `append_events`, as before it.
   */
  oneEventFunction: boolean;
}

/** The answer of an append function: every one has a status, `interleaved` meaning "draw again". */
export interface AppendStatementRow {
  status: string;
}

/** What {@link runAppendStatement} needs besides the statement itself. */
export interface AppendAttempts {
  /** What is appended, for error messages: a stream name, or several joined. */
  target: string;
  /**
   * The error a caller gets for a database error that retrying did not cure (races given up on,
   * or any other statement error). Default: the error itself.
   */
  failure?(error: unknown): Promise<unknown>;
}

/**
 * Runs an append statement until it has an answer: the one retry loop of every append.
 * - A unique violation, deadlock or serialization failure means another transaction got there
 *   first and has now ended: the statement runs again and sees what that one did.
 * - `interleaved` (another append drew positions at the same moment; nothing written): runs again,
 *   asking for the exclusive draw after {@link EXCLUSIVE_AFTER_INTERLEAVED} such answers.
 * - A lost connection within `retryWindowMs`: runs again, which is safe, as a committed batch is
 *   recognised by its ids. After the window: `AppendOutcomeUnknownError` if a try was sent,
 *   `StoreUnavailableError` if none was.
 * @returns the row and whether an earlier try may have committed (its answer was lost).
 */
export async function runAppendStatement<Row extends AppendStatementRow>(
  context: Pick<AppendContext, 'pool' | 'retryWindowMs'>,
  attempts: AppendAttempts,
  statement: (client: pg.PoolClient, exclusive: boolean) => Promise<Row>,
): Promise<{ row: Row; maybeStored: boolean }> {
  const deadline = Date.now() + context.retryWindowMs;
  let maybeStored = false;
  let interleaved = 0;
  let raced = 0;
  for (let attempt = 1; ; attempt++) {
    const exclusive = interleaved >= EXCLUSIVE_AFTER_INTERLEAVED;
    let sent = false;
    let row: Row;
    try {
      // A client checked out explicitly: a failed statement does not cost the pool a connection.
      row = await withClient(context.pool, (client) => {
        sent = true;
        return statement(client, exclusive);
      });
    } catch (error) {
      if (isRetryableAppendError(error) && ++raced < MAX_APPEND_ATTEMPTS) {
        await sleep(Math.random() * Math.min(50, 2 ** raced));
        continue;
      }
      if (isTransient(error)) {
        maybeStored ||= sent;
        if (Date.now() < deadline) {
          await sleep(Math.min(deadline - Date.now(), backoffMs(attempt)));
          continue;
        }
        throw outageError(error, attempts.target, maybeStored, context.retryWindowMs);
      }
      throw attempts.failure ? await attempts.failure(error) : error;
    }
    if (row.status !== 'interleaved') return { row, maybeStored };
    if (++interleaved >= MAX_APPEND_ATTEMPTS) {
      throw new Error(`Could not draw global positions for an append to "${attempts.target}" in ${attempt} attempts`);
    }
  }
}

interface AppendRow extends AppendStatementRow {
  status: 'ok' | 'retried' | 'conflict' | 'duplicate' | 'interleaved';
  version: string | null;
  last_position: string | null;
  duplicate_id: string | null;
}

/** The statements of a single append: one event (plain arguments) or a batch (arrays). */
export interface AppendStatements {
  /** `append_event`, for an append of one event. */
  one: { name: string; text: string };
  /** `append_events`, for a batch. */
  many: { name: string; text: string };
}

/** The statements of a single append, named once per schema so that each is prepared once per connection. */
export function appendStatements({ q, statementKey }: SchemaNames): AppendStatements {
  return {
    one: {
      name: `ordo_append_one_${statementKey}`,
      text: `select status, version, last_position, duplicate_id
               from ${q}.append_event($1, $2, $3, $4::uuid, $5, $6::json, $7::json, $8)`,
    },
    many: {
      name: `ordo_append_${statementKey}`,
      text: `select status, version, last_position, duplicate_id
               from ${q}.append_events($1, $2, $3, $4::uuid[], $5::text[], $6::json[], $7::json[], $8)`,
    },
  };
}

/**
 * `appendToStream` on PostgreSQL: one call of `append_event` or `append_events` (one round trip,
 * one transaction), run by {@link runAppendStatement}. `currentVersion` reads the stream's version
 * for the conflict reported when the stream kept changing under the append.
 */
export async function appendToStreamInPostgres(
  context: AppendContext,
  statements: AppendStatements,
  currentVersion: (stream: string) => Promise<bigint | null>,
  stream: string,
  events: readonly NewEvent[],
  options: AppendOptions,
): Promise<AppendResult> {
  const expected = options?.expectedVersion;
  const valid = serializeAppend(stream, events, expected, context.limits);
  const head = [stream, typeof expected === 'bigint' ? 'version' : expected, typeof expected === 'bigint' ? expected.toString() : null];
  const one = valid.length === 1 ? valid[0]! : undefined;
  const run = async (client: pg.PoolClient, statement: { name: string; text: string }, values: unknown[]) =>
    (await client.query<AppendRow>({ ...statement, values, types: STORE_TYPES })).rows[0]!;
  const { row, maybeStored } = await runAppendStatement<AppendRow>(
    context,
    { target: stream, failure: (error) => appendFailure(error, stream, expected, currentVersion) },
    async (client, exclusive) => {
      if (one && context.oneEventFunction) {
        try {
          return await run(client, statements.one, [...head, one.id, one.type, one.data, one.metadata, exclusive]);
        } catch (error) {
          if (sqlState(error) !== UNDEFINED_FUNCTION) throw error;
          context.oneEventFunction = false;
        }
      }
      const batch = [valid.map((e) => e.id), valid.map((e) => e.type), valid.map((e) => e.data), valid.map((e) => e.metadata)];
      return run(client, statements.many, [...head, ...batch, exclusive]);
    },
  );
  switch (row.status) {
    case 'ok':
      context.appended();
      return { nextExpectedVersion: BigInt(row.version!), lastGlobalPosition: BigInt(row.last_position!), duplicate: false };
    case 'retried':
      // After a lost answer, the stored batch is most likely this call's own earlier try.
      return { nextExpectedVersion: BigInt(row.version!), lastGlobalPosition: BigInt(row.last_position!), duplicate: !maybeStored };
    case 'conflict':
      throw new WrongExpectedVersionError(stream, expected, row.version === null ? null : BigInt(row.version));
    case 'duplicate':
      throw new DuplicateEventIdError(stream, row.duplicate_id!);
    default:
      throw new Error(`append_events returned an unknown status ${String(row.status)}`);
  }
}

/** What a caller gets when an append failed in the database and retrying did not help. */
async function appendFailure(
  error: unknown,
  stream: string,
  expected: ExpectedVersion,
  currentVersion: (stream: string) => Promise<bigint | null>,
): Promise<unknown> {
  const state = sqlState(error);
  if (state === '23505') {
    const { constraint, detail } = asDatabaseError(error);
    const id = /\(event_id\)=\(([0-9a-f-]{36})\)/i.exec(detail ?? '')?.[1];
    if (constraint === 'events_event_id_key' && id) return new DuplicateEventIdError(stream, id.toLowerCase());
  }
  if (isRetryableAppendError(error)) {
    // The stream kept changing under this append: report it as a conflict, which callers
    // handle by reading again and deciding again.
    const actual = await currentVersion(stream).catch(() => null);
    return new WrongExpectedVersionError(stream, expected, actual, MAX_APPEND_ATTEMPTS);
  }
  return error;
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
export function outageError(cause: unknown, target: string | undefined, maybeStored: boolean, windowMs: number): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (maybeStored && target !== undefined) {
    return new AppendOutcomeUnknownError(
      target,
      `An append to "${target}" was sent but its answer was lost (${reason}), and PostgreSQL stayed unreachable for ${windowMs} ms; ` +
        'the events may or may not be stored: send the same append again to find out (a stored batch is absorbed)',
      { cause },
    );
  }
  return new StoreUnavailableError(`PostgreSQL stayed unreachable for ${windowMs} ms (${reason}); nothing was written`, { cause });
}
