import type pg from 'pg';
import { sleep, type ReadStreamOptions, type ReadStreamResult, type RecordedEvent } from '@ordo/core';
import { STORE_TYPES, isTransient } from './connection.js';
import { backoffMs, outageError } from './append.js';
import type { SchemaNames } from './schema.js';

/** PostgreSQL's largest bigint: a backwards read from "the end" starts here. */
export const INT8_MAX = 9223372036854775807n;
const INT8_MIN = -9223372036854775808n;

/** A bigint within PostgreSQL's bigint: positions and versions beyond it match nothing anyway. */
export function clampInt8(value: bigint): bigint {
  return value > INT8_MAX ? INT8_MAX : value < INT8_MIN ? INT8_MIN : value;
}

/**
 * A row of the store's reads, as an array (`rowMode: 'array'`: no object per row built by the driver
 * only to be copied): the head first, then {@link EVENT_RESULT_COLUMNS} in order. The event columns
 * are null when the head has no event (an empty page, a stream read with `maxCount: 0`).
 */
export type EventRow = [
  head: string,
  globalPosition: string | null,
  eventId: string,
  streamName: string,
  streamVersion: string,
  eventType: string,
  data: unknown,
  metadata: Record<string, unknown>,
  /** Milliseconds since the epoch (text), so that no global type parser decides what it becomes. */
  recordedMs: string,
];

/** Columns of an event row, inside the lateral subqueries. */
export const EVENT_COLUMNS =
  'e.global_position, e.event_id, e.stream_name, e.stream_version, e.event_type, e.data, e.metadata, e.recorded_at';
/** The same, as the store reads them. */
export const EVENT_RESULT_COLUMNS =
  'e.global_position, e.event_id, e.stream_name, e.stream_version, e.event_type, e.data, e.metadata, ' +
  'floor(extract(epoch from e.recorded_at) * 1000)::int8 as recorded_ms';

/** The events of a read's rows (rows without an event are left out), each decoded once. */
export function toRecordedEvents(rows: readonly EventRow[]): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (const row of rows) {
    if (row[1] === null) continue;
    events.push({
      id: row[2],
      type: row[5],
      data: row[6],
      metadata: row[7],
      streamName: row[3],
      streamVersion: BigInt(row[4]),
      globalPosition: BigInt(row[1]),
      recordedAt: new Date(Number(row[8])),
    });
  }
  return events;
}

/**
 * Runs a read, again after connection failures until `windowMs` has passed (reads write nothing,
 * so running one again is always safe).
 * @throws StoreUnavailableError once the window has passed, or at once when `stopped()` says so.
 */
export async function retryingRead<T>(windowMs: number, stopped: () => boolean, read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + windowMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (Date.now() >= deadline || stopped()) throw outageError(error, undefined, false, windowMs);
      await sleep(Math.min(deadline - Date.now(), backoffMs(attempt)));
    }
  }
}

/** The two stream reads of a schema, each a named (prepared) statement. */
export interface StreamReadStatements {
  forwards: { name: string; text: string };
  backwards: { name: string; text: string };
}

/** Writes the stream reads for a schema: the stream's head version, and its events after a lateral join. */
export function streamReadStatements({ q, statementKey: key }: SchemaNames): StreamReadStatements {
  const text = (direction: 'forwards' | 'backwards') => `
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
    forwards: { name: `ordo_read_stream_${key}`, text: text('forwards') },
    backwards: { name: `ordo_read_stream_back_${key}`, text: text('backwards') },
  };
}

/**
 * One statement reads a stream's version and its events (validated options): a missing stream
 * reads as `{ version: null, events: [] }`.
 */
export async function readStreamRows(
  pool: pg.Pool,
  statements: StreamReadStatements,
  stream: string,
  options: ReadStreamOptions,
): Promise<ReadStreamResult> {
  const backwards = options.direction === 'backwards';
  const from = options.fromVersion ?? (backwards ? INT8_MAX : 0n);
  const maxCount = options.maxCount === undefined || options.maxCount === Number.POSITIVE_INFINITY ? null : options.maxCount;
  const { rows } = await pool.query<EventRow>({
    ...(backwards ? statements.backwards : statements.forwards),
    values: [stream, from.toString(), maxCount],
    types: STORE_TYPES,
    rowMode: 'array',
  });
  if (rows.length === 0) return { version: null, events: [] };
  return { version: BigInt(rows[0]![0]), events: toRecordedEvents(rows) };
}
