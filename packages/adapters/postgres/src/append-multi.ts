import {
  DuplicateEventIdError,
  PartialRetryError,
  ValidationError,
  WrongExpectedVersionError,
  validateAppends,
  type MultiStreamAppendResult,
  type StreamAppendOutcome,
  type StreamAppendRequest,
  type ValidStreamAppend,
} from '@ordo/core';
import { STORE_TYPES } from './connection.js';
import { runAppendStatement, type AppendContext } from './append.js';

/** What an append to several streams runs on: the single append's context and its byte limit. */
export interface MultiAppendContext extends AppendContext {
  /** Largest total JSON size of one call, in bytes (the store's `maxBatchBytes`). */
  maxBatchBytes: number;
}

interface MultiRow {
  status: 'ok' | 'retried' | 'partial' | 'conflict' | 'duplicate' | 'interleaved';
  statuses: (string | null)[] | null;
  versions: (string | null)[] | null;
  positions: (string | null)[] | null;
  duplicate_id: string | null;
}

const INT8_MAX = 9223372036854775807n;

/**
 * `appendToStreams` on PostgreSQL: one call of `append_multi` (one round trip, one transaction),
 * which runs the same per-stream check and write as a single append, through the same retry loop
 * ({@link runAppendStatement}).
 */
export async function appendToStreamsInPostgres(
  context: MultiAppendContext,
  requests: readonly StreamAppendRequest[],
): Promise<MultiStreamAppendResult> {
  const valid = validateAppends(requests, context.limits);
  const values = argumentsOf(valid, context.maxBatchBytes);
  const text = `select status, to_json(statuses) as statuses, to_json(versions::text[]) as versions,
      to_json(positions::text[]) as positions, duplicate_id
    from ${context.names.q}.append_multi($1::text[], $2::text[], $3::int8[], $4::int4[], $5::uuid[], $6::text[], $7::json[], $8::json[], $9)`;
  const { row } = await runAppendStatement<MultiRow>(
    context,
    { target: valid.map((r) => r.stream).join(', ') },
    async (client, exclusive) =>
      (await client.query<MultiRow>({ text, values: [...values, exclusive], types: STORE_TYPES })).rows[0]!,
  );
  if (row.status === 'ok') context.appended();
  return answerOf(valid, row);
}

/** The function's arguments: requests flattened, events' JSON serialised once. */
function argumentsOf(valid: readonly ValidStreamAppend[], maxBatchBytes: number): unknown[] {
  const events = valid.flatMap((r) => r.events);
  const data = events.map((e) => JSON.stringify(e.data));
  const metadata = events.map((e) => JSON.stringify(e.metadata ?? {}));
  let bytes = 0;
  for (let i = 0; i < events.length; i++) bytes += data[i]!.length + metadata[i]!.length;
  if (bytes > maxBatchBytes) {
    throw new ValidationError('append', [
      { path: 'requests', message: `hold about ${bytes} bytes of JSON in all; the limit of one append is ${maxBatchBytes}` },
    ]);
  }
  valid.forEach((r, i) => {
    if (typeof r.expectedVersion === 'bigint' && r.expectedVersion > INT8_MAX) {
      throw new ValidationError('append', [{ path: `requests.${i}.expectedVersion`, message: `must be at most ${INT8_MAX}` }]);
    }
  });
  return [
    valid.map((r) => r.stream),
    valid.map((r) => (typeof r.expectedVersion === 'bigint' ? 'version' : r.expectedVersion)),
    valid.map((r) => (typeof r.expectedVersion === 'bigint' ? r.expectedVersion.toString() : null)),
    valid.map((r) => r.events.length),
    events.map((e) => e.id),
    events.map((e) => e.type),
    data,
    metadata,
  ];
}

/** The result, or the typed error, that a row of `append_multi` means. */
function answerOf(valid: readonly ValidStreamAppend[], row: MultiRow): MultiStreamAppendResult {
  const version = (i: number) => (row.versions?.[i] == null ? null : BigInt(row.versions[i]!));
  switch (row.status) {
    case 'ok':
    case 'retried': {
      const streams = valid.map(
        (r, i): StreamAppendOutcome => ({ stream: r.stream, nextExpectedVersion: version(i)!, lastGlobalPosition: BigInt(row.positions![i]!) }),
      );
      const last = streams.reduce((max, s) => (s.lastGlobalPosition > max ? s.lastGlobalPosition : max), 0n);
      return { duplicate: row.status === 'retried', streams, lastGlobalPosition: last };
    }
    case 'partial': {
      const stored = valid.filter((_, i) => row.statuses![i] === 'retried').map((r) => r.stream);
      const missing = valid.filter((_, i) => row.statuses![i] !== 'retried').map((r) => r.stream);
      throw new PartialRetryError(stored, missing);
    }
    case 'conflict':
      throw WrongExpectedVersionError.forStreams(
        valid
          .map((r, i) => ({ stream: r.stream, expected: r.expectedVersion, actual: version(i), failed: row.statuses![i] === 'conflict' }))
          .filter((c) => c.failed)
          .map(({ stream, expected, actual }) => ({ stream, expected, actual })),
      );
    case 'duplicate':
      throw new DuplicateEventIdError(valid.find((r) => r.events.some((e) => e.id === row.duplicate_id))?.stream ?? valid[0]!.stream, row.duplicate_id!);
    default:
      throw new Error(`append_multi returned an unknown status ${String(row.status)}`);
  }
}
