/**
 * What the adapter needs of a client, and the small conversions between the client's shapes and
 * Ordo's. Written against the shapes `@eventstore/db-client` exposes, which its successor
 * `@kurrent/kurrentdb-client` keeps (it renames only the append option, see `appendOptions`).
 */
import type { RecordedEvent } from '@ordo/core';

/** A position in `$all` as the client carries it. */
export interface ClientPosition {
  commit: bigint;
  prepare: bigint;
}

/** An event read from the server, as the client gives it. */
export interface ClientRecordedEvent {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  data: unknown;
  metadata?: unknown;
  created: Date;
  position?: ClientPosition;
}

/** A read result: the event (and the link, which Ordo never writes). */
export interface ClientResolvedEvent {
  event?: ClientRecordedEvent;
  commitPosition?: bigint;
}

/** The client's answer to an append. */
export interface ClientAppendResult {
  success: boolean;
  nextExpectedRevision: bigint;
  position?: ClientPosition;
}

/** A running `$all` subscription: a readable stream of resolved events that can be cancelled. */
export interface ClientSubscription {
  on(event: string, listener: (...args: never[]) => void): unknown;
  /** Events received and not yet emitted (both clients' subscriptions are Node streams). */
  readonly readableLength?: number;
  pause(): unknown;
  resume(): unknown;
  unsubscribe(): Promise<void>;
}

/**
 * The calls the adapter makes. An `EventStoreDBClient` from `@eventstore/db-client` has them, and
 * so does a `KurrentDBClient` from `@kurrent/kurrentdb-client`.
 */
export interface EventStoreClient {
  appendToStream(streamName: string, events: never, options?: never): Promise<ClientAppendResult>;
  readStream(streamName: string, options?: never): AsyncIterable<ClientResolvedEvent>;
  readAll(options?: never): AsyncIterable<ClientResolvedEvent>;
  subscribeToAll(options?: never): ClientSubscription;
  setStreamMetadata(streamName: string, metadata: never, options?: never): Promise<unknown>;
  dispose(): Promise<void>;
}

/** Untyped access to the same calls, used inside the adapter. */
export interface LooseClient {
  appendToStream(streamName: string, events: unknown[], options?: Record<string, unknown>): Promise<ClientAppendResult>;
  readStream(streamName: string, options?: Record<string, unknown>): AsyncIterable<ClientResolvedEvent>;
  readAll(options?: Record<string, unknown>): AsyncIterable<ClientResolvedEvent>;
  subscribeToAll(options?: Record<string, unknown>): ClientSubscription;
  setStreamMetadata(streamName: string, metadata: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
  dispose(): Promise<void>;
}

/** The client seen through {@link LooseClient}. */
export function loose(client: EventStoreClient): LooseClient {
  return client as unknown as LooseClient;
}

/** The client's expected-revision values. */
export type ClientRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/**
 * Append options understood by both clients: `@eventstore/db-client` reads `expectedRevision`,
 * `@kurrent/kurrentdb-client` reads `streamState`; each ignores the other's.
 */
export function appendOptions(revision: ClientRevision, deadline: number | undefined): Record<string, unknown> {
  return { expectedRevision: revision, streamState: revision, ...(deadline !== undefined && { deadline }) };
}

/** `fromPosition` for a read or subscription that starts at `position` (0 is the start of the log). */
export function clientPosition(position: bigint): 'start' | ClientPosition {
  return position <= 0n ? 'start' : { commit: position, prepare: position };
}

/** Positions a server reports when it does not know one (older servers reading a stream). */
const UNKNOWN_POSITIONS = new Set([0n, 18446744073709551615n, -1n]);

/** The commit position of an event, or `undefined` when the server did not report one. */
export function commitPositionOf(resolved: ClientResolvedEvent): bigint | undefined {
  const commit = resolved.event?.position?.commit ?? resolved.commitPosition;
  return commit === undefined || UNKNOWN_POSITIONS.has(commit) ? undefined : commit;
}

/** Converts a client event to Ordo's envelope; `undefined` when it has no known position. */
export function toRecordedEvent(resolved: ClientResolvedEvent): RecordedEvent | undefined {
  const e = resolved.event;
  const position = commitPositionOf(resolved);
  if (!e || position === undefined) return undefined;
  return {
    id: e.id,
    type: e.type,
    data: e.isJson ? e.data : decodeJson(e.data),
    metadata: metadataOf(e.metadata),
    streamName: e.streamId,
    streamVersion: e.revision,
    globalPosition: position,
    recordedAt: e.created,
  };
}

/**
 * The property that carries Ordo's metadata, as one JSON string, on events written by a
 * multi-stream append (which takes string properties only).
 */
export const ORDO_METADATA_PROPERTY = 'ordo-metadata';

/** Ordo's metadata of an event: its JSON metadata, or the one property a multi-stream append wrote it in. */
function metadataOf(metadata: unknown): RecordedEvent['metadata'] {
  if (!isObject(metadata)) return {};
  const packed = metadata[ORDO_METADATA_PROPERTY];
  if (typeof packed === 'string') {
    try {
      const unpacked: unknown = JSON.parse(packed);
      if (isObject(unpacked)) return unpacked as RecordedEvent['metadata'];
    } catch {
      // Not Ordo's: keep the metadata as it is.
    }
  }
  return metadata as RecordedEvent['metadata'];
}

function decodeJson(data: unknown): unknown {
  if (data instanceof Uint8Array) {
    try {
      return JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      return data;
    }
  }
  return data;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** gRPC status codes of errors a client passes on unconverted (e.g. from its server-features call). */
const GRPC_STATUS_TYPES: Record<number, string> = { 1: 'cancelled', 4: 'deadline-exceeded', 14: 'unavailable' };

/** The error kinds the clients tag their errors with (`error.type`), or that a raw gRPC status means. */
export function errorType(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, code } = error as { type?: unknown; code?: unknown };
  if (typeof type === 'string') return type;
  return typeof code === 'number' ? GRPC_STATUS_TYPES[code] : undefined;
}

/** Errors after which the same call may succeed: the connection dropped, the server was unreachable. */
export function isTransient(error: unknown): boolean {
  const type = errorType(error);
  return type === 'unavailable' || type === 'cancelled';
}

/** Errors that say the call ran out of time (its outcome, for an append, is unknown). */
export function isTimeout(error: unknown): boolean {
  const type = errorType(error);
  return type === 'deadline-exceeded' || type === 'timeout';
}

/** Escapes `text` for use inside a regular expression. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

