import type pg from 'pg';
import type { LogFilter, RecordedEvent } from '@ordo/core';
import { STORE_TYPES } from './connection.js';
import { EVENT_COLUMNS, EVENT_RESULT_COLUMNS, clampInt8, toRecordedEvents, type EventRow } from './reads.js';
import type { SchemaNames } from './schema.js';

/** Events read from the global log, and where the next read goes on from. */
export interface LogPage {
  events: RecordedEvent[];
  position: bigint;
}

/** The statements of the global log for one schema: the head, and a page read per filter shape. */
export interface GlobalLogStatements {
  head: { name: string; text: string };
  page(byType: boolean, byPrefix: boolean): { name: string; text: string };
}

/** Writes the global log's statements for a schema (page reads are built once per filter shape). */
export function globalLogStatements({ q, statementKey: key }: SchemaNames): GlobalLogStatements {
  // The newest position of a transaction older than every running one. Positions are drawn in
  // transaction-id order (see append_events), so every event at or below it has committed (or
  // never will), and nothing can appear below it later.
  const horizon = `coalesce((
      select h.global_position from ${q}.events h
      where h.tx_id < pg_snapshot_xmin(pg_current_snapshot())
      order by h.tx_id desc, h.global_position desc
      limit 1), 0)`;
  const pages = new Map<string, { name: string; text: string }>();
  const page = (byType: boolean, byPrefix: boolean) => {
    const filterKey = `${byType ? 't' : ''}${byPrefix ? 'p' : ''}`;
    let query = pages.get(filterKey);
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
      pages.set(filterKey, query);
    }
    return query;
  };
  return { head: { name: `ordo_head_${key}`, text: `select ${horizon} as head` }, page };
}

/**
 * Up to `maxCount` events after `after` that pass `filter`, all below the visibility horizon;
 * `position` is where the next read goes on from (the horizon, when the page was not full).
 * The page behind `readAll` and every subscription: it never passes an event that may yet commit.
 */
export async function readLogPage(
  pool: LogQuery,
  statements: GlobalLogStatements,
  after: bigint,
  filter: LogFilter | undefined,
  maxCount: number,
): Promise<LogPage> {
  const types = filter?.eventTypes && filter.eventTypes.length > 0 ? [...filter.eventTypes] : undefined;
  const prefixes = filter?.streamPrefixes && filter.streamPrefixes.length > 0 ? [...filter.streamPrefixes] : undefined;
  const query = statements.page(types !== undefined, prefixes !== undefined);
  const values: unknown[] = [clampInt8(after).toString(), maxCount];
  if (types) values.push(types);
  if (prefixes) values.push(prefixes);
  const { rows } = (await pool.query({ ...query, values, types: STORE_TYPES, rowMode: 'array' })) as { rows: EventRow[] };
  const head = BigInt(rows[0]![0]);
  const events = toRecordedEvents(rows);
  const position = events.length === maxCount ? events[events.length - 1]!.globalPosition : head > after ? head : after;
  return { events, position };
}

/** Where a page is read: a pool, or the store's reader of a replica (which retries recovery conflicts). */
export interface LogQuery {
  query(config: pg.QueryConfig & { rowMode?: 'array' }): Promise<{ rows: unknown[] }>;
}

/** The last position a reader can see (the visibility horizon), or 0 for an empty log. */
export async function readHeadPosition(pool: pg.Pool, statements: GlobalLogStatements): Promise<bigint> {
  const { rows } = await pool.query<{ head: string }>({ ...statements.head, types: STORE_TYPES });
  return BigInt(rows[0]!.head);
}
