/**
 * `appendToStreams` on KurrentDB: one call of the client's `multiStreamAppend` (KurrentDB's atomic
 * append to several streams, `@kurrent/kurrentdb-client` 1.1+, KurrentDB 25.1+). With the legacy
 * `@eventstore/db-client`, or a server without it, the call is refused with
 * `UnsupportedOperationError`: separate appends would not be atomic.
 */
import {
  PartialRetryError,
  UnsupportedOperationError,
  WrongExpectedVersionError,
  sleep,
  validateAppends,
  versionMatches,
  type AppendLimits,
  type AppendResult,
  type MultiStreamAppendResult,
  type NewEvent,
  type RecordedEvent,
  type StreamAppendOutcome,
  type StreamAppendRequest,
  type ValidStreamAppend,
} from '@ordo/core';
import { ORDO_METADATA_PROPERTY, errorType, isTransient, type ClientRevision, type LooseClient } from './client.js';

/** Whether the client and server offer the multi-stream append: `undefined` until first use. */
export interface MultiAppendSupport {
  known: boolean | undefined;
}

/** What the multi-stream append borrows of the store (its id bookkeeping and reads). */
export interface MultiAppendHost {
  client: LooseClient;
  limits: AppendLimits;
  lookback: number;
  retries: number;
  deadline: number | undefined;
  support: MultiAppendSupport;
  checkAppendSize(batch: readonly NewEvent[]): void;
  refuseIdsOfOtherStreams(stream: string, batch: readonly NewEvent[]): void;
  seenBefore(stream: string, batch: readonly NewEvent[]): boolean;
  remember(stream: string, batch: readonly { id: string }[], first: bigint): void;
  readTail(stream: string, count: number): Promise<{ version: bigint | null; events: RecordedEvent[] }>;
  retriedAppend(stream: string, batch: readonly NewEvent[], tail: readonly RecordedEvent[]): AppendResult | undefined;
  positionOf(stream: string, revision: bigint): Promise<bigint>;
  toError(error: unknown, stream?: string): unknown;
}

interface MultiAppendClient {
  multiStreamAppend(requests: unknown[]): Promise<{ position: bigint; responses: { streamName: string; revision: bigint }[] }>;
}

const MAX_ATTEMPTS = 20;
const LEGACY_CLIENT =
  'the client is not a KurrentDBClient with multiStreamAppend; pass a client of @kurrent/kurrentdb-client 1.1 or later (and run KurrentDB 25.1 or later)';
const OLD_SERVER = 'the server does not offer multi-stream appends; KurrentDB 25.1 or later does';

/**
 * Appends every request or none. Writes with exact revisions (as single appends do), so that when
 * a call may be a retry (a dropped connection, ids this client has seen, a conflict) the streams'
 * latest events are read first: a call stored whole is answered as a duplicate, a call stored in
 * part is refused, and otherwise conflicts are reported for every stream that does not match.
 */
export async function appendToStreamsInKurrent(
  host: MultiAppendHost,
  requests: readonly StreamAppendRequest[],
): Promise<MultiStreamAppendResult> {
  const valid = validateAppends(requests, host.limits);
  host.checkAppendSize(valid.flatMap((r) => r.events));
  for (const r of valid) host.refuseIdsOfOtherStreams(r.stream, r.events);
  const client = multiClient(host);

  let mayBeRetry = valid.some((r) => !isExact(r.expectedVersion) || host.seenBefore(r.stream, r.events));
  let dropped = 0;
  for (let attempt = 1; ; attempt++) {
    let revisions: ClientRevision[];
    if (!mayBeRetry) {
      revisions = valid.map((r) => r.expectedVersion);
    } else {
      const checked = await checkAgainstStored(host, valid);
      if ('duplicate' in checked) return checked;
      revisions = checked.revisions;
    }
    try {
      return await write(host, client, valid, revisions);
    } catch (error) {
      mayBeRetry = true;
      if (errorType(error) === 'unsupported') {
        host.support.known = false;
        throw new UnsupportedOperationError('appendToStreams', OLD_SERVER);
      }
      if (isTransient(error) && dropped < host.retries) {
        // The call may have been written: the next attempt looks before writing again.
        await sleep(10 * 2 ** dropped++);
        continue;
      }
      if (errorType(error) !== 'wrong-expected-version') throw host.toError(error, valid[0]!.stream);
      if (attempt >= MAX_ATTEMPTS) throw WrongExpectedVersionError.forStreams(await conflictsNow(host, valid), attempt);
      if (attempt > 1) await sleep(Math.random() * Math.min(100, 2 ** attempt));
    }
  }
}

function multiClient(host: MultiAppendHost): MultiAppendClient {
  const client = host.client as unknown as Partial<MultiAppendClient>;
  if (host.support.known === false) throw new UnsupportedOperationError('appendToStreams', OLD_SERVER);
  if (typeof client.multiStreamAppend !== 'function') throw new UnsupportedOperationError('appendToStreams', LEGACY_CLIENT);
  return client as MultiAppendClient;
}

function isExact(expected: ValidStreamAppend['expectedVersion']): boolean {
  return typeof expected === 'bigint' || expected === 'no_stream';
}

/**
 * Reads every stream's latest events: the stored call if it is there whole, else the exact revision
 * to write each stream with.
 * @throws PartialRetryError, DuplicateEventIdError, WrongExpectedVersionError (every stream that does not match)
 */
async function checkAgainstStored(
  host: MultiAppendHost,
  valid: readonly ValidStreamAppend[],
): Promise<MultiStreamAppendResult | { revisions: ClientRevision[] }> {
  const tails = await Promise.all(valid.map((r) => host.readTail(r.stream, host.lookback + r.events.length + 1)));
  const retried = valid.map((r, i) => host.retriedAppend(r.stream, r.events, tails[i]!.events));
  if (retried.every((r) => r !== undefined)) {
    // A stream's outcome carries no flag of its own: the call as a whole is the duplicate.
    const streams = retried.map(
      (r, i): StreamAppendOutcome => ({ stream: valid[i]!.stream, nextExpectedVersion: r!.nextExpectedVersion, lastGlobalPosition: r!.lastGlobalPosition }),
    );
    return { duplicate: true, streams, lastGlobalPosition: maxPosition(streams) };
  }
  if (retried.some((r) => r !== undefined)) {
    throw new PartialRetryError(
      valid.filter((_, i) => retried[i] !== undefined).map((r) => r.stream),
      valid.filter((_, i) => retried[i] === undefined).map((r) => r.stream),
    );
  }
  const conflicts = valid
    .map((r, i) => ({ stream: r.stream, expected: r.expectedVersion, actual: tails[i]!.version }))
    .filter((c) => !versionMatches(c.expected, c.actual));
  if (conflicts.length > 0) throw WrongExpectedVersionError.forStreams(conflicts);
  return { revisions: tails.map((t) => t.version ?? 'no_stream') };
}

/** The streams that do not match their expected version now (after the server reported a conflict). */
async function conflictsNow(host: MultiAppendHost, valid: readonly ValidStreamAppend[]) {
  const tails = await Promise.all(valid.map((r) => host.readTail(r.stream, 1)));
  const conflicts = valid
    .map((r, i) => ({ stream: r.stream, expected: r.expectedVersion, actual: tails[i]!.version }))
    .filter((c) => !versionMatches(c.expected, c.actual));
  return conflicts.length > 0 ? conflicts : valid.map((r, i) => ({ stream: r.stream, expected: r.expectedVersion, actual: tails[i]!.version }));
}

/** One `multiStreamAppend` call; the positions of all but the last stream are read back. */
async function write(
  host: MultiAppendHost,
  client: MultiAppendClient,
  valid: readonly ValidStreamAppend[],
  revisions: readonly ClientRevision[],
): Promise<MultiStreamAppendResult> {
  const result = await client.multiStreamAppend(
    valid.map((r, i) => ({
      streamName: r.stream,
      expectedState: revisions[i],
      events: r.events.map((e) => ({
        id: e.id,
        type: e.type,
        contentType: 'application/json',
        data: e.data,
        // The multi-stream append takes string properties only: Ordo's metadata travels as one JSON string.
        metadata: { [ORDO_METADATA_PROPERTY]: JSON.stringify(e.metadata ?? {}) },
      })),
    })),
  );
  host.support.known = true;
  const streams = await Promise.all(
    valid.map(async (r, i): Promise<StreamAppendOutcome> => {
      const revision = result.responses.find((s) => s.streamName === r.stream)?.revision;
      if (revision === undefined) throw host.toError(new Error(`multiStreamAppend did not report stream "${r.stream}"`), r.stream);
      host.remember(r.stream, r.events, revision - BigInt(r.events.length - 1));
      const last = i === valid.length - 1 ? result.position : await host.positionOf(r.stream, revision);
      return { stream: r.stream, nextExpectedVersion: revision, lastGlobalPosition: last };
    }),
  );
  return { duplicate: false, streams, lastGlobalPosition: maxPosition(streams) };
}

function maxPosition(streams: readonly StreamAppendOutcome[]): bigint {
  return streams.reduce((max, s) => (s.lastGlobalPosition > max ? s.lastGlobalPosition : max), 0n);
}
