/**
 * The state of the in-process EventStoreDB test server: streams, the `$all` log, stream metadata,
 * deletes, and the append rules (expected revisions and event-id idempotency) as EventStoreDB
 * documents them. No gRPC here: `service.ts` maps requests and answers onto these calls.
 *
 * Documented behaviour this models:
 * - Expected revision. `no_stream`: the stream must not exist (a soft-deleted stream counts as not
 *   existing); `stream_exists`: it must (a stream with only metadata counts; a deleted one answers
 *   "stream deleted"); a revision: the last event's revision.
 * - Idempotency with an expected revision E: if E is the current revision, the events are written.
 *   If E is behind, the ids of the events after E are compared with the request's: all equal means
 *   the write already happened (acknowledged, nothing written); otherwise wrong expected version.
 * - Idempotency with `any` / `stream_exists`: best effort, from a bounded cache of recently written
 *   event ids; once an id has left the cache, the same events are written again.
 * - `$all` holds every event, including system events (`$metadata`, `$streamDeleted`) and events that
 *   stream metadata hides; stream reads honour `$tb` (truncate before) and `$maxCount`.
 * - Soft delete sets `$tb` past the last event and keeps the rest of the metadata: the stream reads
 *   as not found, and appending continues from the old revision. Deleting a stream that never
 *   existed succeeds under `any` and `no_stream`; `stream_exists` on a soft-deleted stream answers
 *   "stream deleted". Tombstone (hard delete) closes the stream for good.
 * - An append recognised as already written is acknowledged with the revision and position of the
 *   original write.
 * - `$all` also holds the node's own system records (see `system.ts`), written without any client.
 * - Positions: commit = prepare, increasing with the bytes written, not dense.
 */

/** What an append expects of the stream. */
export type ExpectedRevision =
  | { kind: 'any' }
  | { kind: 'no_stream' }
  | { kind: 'stream_exists' }
  | { kind: 'revision'; revision: bigint };

/** An event as the client proposes it. */
export interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

/** An event as stored. */
export interface StoredEvent {
  id: string;
  stream: string;
  revision: bigint;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
  /** .NET ticks (100 ns) since the Unix epoch, as the protocol carries them. */
  created: bigint;
  /** Commit and prepare position (equal: no explicit transactions here). */
  position: bigint;
}

/**
 * What an append came to: written, or recognised as already written (then `revision` and
 * `position` are those of the original write), or refused.
 */
export type AppendOutcome =
  | { kind: 'success'; currentRevision: bigint; position: bigint | null }
  | { kind: 'wrong_expected_version'; currentRevision: bigint | null; expected: ExpectedRevision }
  | { kind: 'stream_deleted' }
  | { kind: 'too_big'; maxAppendSize: number };

/** One stream's part of a multi-stream append (KurrentDB's v2 AppendSession). */
export interface MultiAppendRequest {
  stream: string;
  expected: ExpectedRevision;
  events: readonly ProposedEvent[];
}

/**
 * What a multi-stream append came to: every stream written (its last revision, and the `$all`
 * position of the call's last event), or nothing written and the first reason why.
 */
export type MultiAppendOutcome =
  | { kind: 'success'; revisions: { stream: string; revision: bigint }[]; position: bigint }
  | { kind: 'revision_conflict'; stream: string; expected: ExpectedRevision; actual: bigint | null }
  | { kind: 'stream_tombstoned'; stream: string }
  | { kind: 'too_big'; size: number; maxSize: number };

/** What a soft delete or tombstone came to. */
export type DeleteOutcome =
  | { kind: 'success'; position: bigint }
  | { kind: 'wrong_expected_version'; currentRevision: bigint | null; expected: ExpectedRevision }
  | { kind: 'stream_deleted' };

/** What a stream read came to. */
export type StreamReadOutcome =
  | { kind: 'events'; events: StoredEvent[] }
  | { kind: 'not_found' }
  | { kind: 'stream_deleted' };

/** Server-side filter of an `$all` read or subscription. */
export interface AllFilter {
  on: 'stream' | 'event_type';
  prefixes: string[];
  regex: string | undefined;
}

/** Settings of the server's state. */
export interface DatabaseOptions {
  /** Largest append in bytes (data plus metadata of all its events). Default 1 MiB, as the server's default. */
  maxAppendSize?: number;
  /** How many recently written event ids the best-effort idempotency check remembers. Default 10,000. */
  idempotencyCacheSize?: number;
  /** Clock for `created`. */
  now?: () => Date;
}

/** Revision of the tombstone event that closes a hard-deleted stream. */
export const TOMBSTONE_REVISION = 9223372036854775807n;
const FIRST_POSITION = 4096n;
const RECORD_OVERHEAD = 96n;

interface StreamState {
  events: StoredEvent[];
  tombstoned: boolean;
}

/** The server's state and its rules; one per test server. */
export class Database {
  /** `$all`: every event in commit order, system events included. */
  readonly log: StoredEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  private readonly recentIds = new Map<string, { stream: string; revision: bigint }>();
  private readonly listeners = new Set<() => void>();
  private nextPosition = FIRST_POSITION;
  /** Largest append in bytes. */
  readonly maxAppendSize: number;
  private readonly idempotencyCacheSize: number;
  private readonly now: () => Date;

  constructor(options: DatabaseOptions = {}) {
    this.maxAppendSize = options.maxAppendSize ?? 1024 * 1024;
    this.idempotencyCacheSize = options.idempotencyCacheSize ?? 10_000;
    this.now = options.now ?? (() => new Date());
  }

  /** Calls `listener` after every write; returns the function that unregisters it. */
  onWrite(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Empties the best-effort idempotency cache, as a restart or a busy server would. */
  forgetEventIds(): void {
    this.recentIds.clear();
  }

  /** Appends `events` to `stream` under the documented expected-revision and idempotency rules. */
  append(stream: string, expected: ExpectedRevision, events: readonly ProposedEvent[]): AppendOutcome {
    const state = this.streams.get(stream);
    if (state?.tombstoned) return { kind: 'stream_deleted' };
    const size = events.reduce((sum, e) => sum + e.data.length + e.customMetadata.length, 0);
    if (size > this.maxAppendSize) return { kind: 'too_big', maxAppendSize: this.maxAppendSize };

    const stored = state?.events ?? [];
    const current = stored.length === 0 ? null : BigInt(stored.length - 1);
    const softDeleted = this.isSoftDeleted(stream);
    const wrong = (): AppendOutcome => ({ kind: 'wrong_expected_version', currentRevision: current, expected });

    switch (expected.kind) {
      case 'no_stream':
        if (current === null || softDeleted) return this.write(stream, events);
        return this.byPosition(stream, -1n, events) ?? wrong();
      case 'revision':
        if (expected.revision === current) return this.write(stream, events);
        if (current !== null && expected.revision < current) {
          return this.byPosition(stream, expected.revision, events) ?? wrong();
        }
        return wrong();
      case 'stream_exists':
        if (softDeleted) return { kind: 'stream_deleted' };
        if (current === null && !this.streams.has(metastreamOf(stream))) return wrong();
        return this.byCache(stream, events) ?? this.write(stream, events);
      case 'any':
        return this.byCache(stream, events) ?? this.write(stream, events);
    }
  }

  /**
   * KurrentDB's multi-stream append: every stream's expected revision is checked first, then all
   * events are written in one run of `$all`, in request order. There is no id-based recognition of
   * a repeated session (unlike single appends): a repeat under exact revisions is a conflict.
   */
  appendMulti(requests: readonly MultiAppendRequest[]): MultiAppendOutcome {
    const size = requests.reduce((sum, r) => sum + r.events.reduce((n, e) => n + e.data.length + e.customMetadata.length, 0), 0);
    if (size > this.maxAppendSize) return { kind: 'too_big', size, maxSize: this.maxAppendSize };
    for (const { stream, expected } of requests) {
      const state = this.streams.get(stream);
      if (state?.tombstoned) return { kind: 'stream_tombstoned', stream };
      const actual = state && state.events.length > 0 ? BigInt(state.events.length - 1) : null;
      const ok =
        expected.kind === 'any' ||
        (expected.kind === 'no_stream' && actual === null) ||
        (expected.kind === 'stream_exists' && actual !== null) ||
        (expected.kind === 'revision' && expected.revision === actual);
      if (!ok) return { kind: 'revision_conflict', stream, expected, actual };
    }
    const created = BigInt(this.now().getTime()) * 10_000n;
    const revisions: { stream: string; revision: bigint }[] = [];
    let last: StoredEvent | undefined;
    for (const { stream, events } of requests) {
      let state = this.streams.get(stream);
      if (!state) {
        state = { events: [], tombstoned: false };
        this.streams.set(stream, state);
      }
      for (const proposed of events) {
        last = this.record(stream, BigInt(state.events.length), proposed, created);
        state.events.push(last);
        this.remember(last);
      }
      revisions.push({ stream, revision: last!.revision });
    }
    // Listeners hear of the session once, after its last event: a reader never sees half of it.
    this.notify();
    return { kind: 'success', revisions, position: last!.position };
  }

  /**
   * The documented check for an expected revision behind the stream: compare the ids of the events
   * after `expected` with the request. All equal: the write already happened. Otherwise `undefined`
   * (the caller answers wrong expected version).
   */
  private byPosition(stream: string, expected: bigint, events: readonly ProposedEvent[]): AppendOutcome | undefined {
    const stored = this.streams.get(stream)?.events ?? [];
    const first = Number(expected + 1n);
    const all = events.every((e, i) => stored[first + i]?.id === e.id);
    if (!all) return undefined;
    return this.alreadyWritten(stored, first + events.length - 1);
  }

  /**
   * The acknowledgement of a write that already happened: as the real server does, it carries the
   * revision and the `$all` position of the original write's last event, so that a retried append
   * gets the same answer as the first one.
   */
  private alreadyWritten(stored: readonly StoredEvent[], last: number): AppendOutcome {
    const event = stored[last]!;
    return { kind: 'success', currentRevision: event.revision, position: event.position };
  }

  /** The best-effort check: only ids still in the cache are recognised. */
  private byCache(stream: string, events: readonly ProposedEvent[]): AppendOutcome | undefined {
    const cached = this.recentIds.get(events[0]!.id);
    if (!cached || cached.stream !== stream) return undefined;
    const stored = this.streams.get(stream)?.events ?? [];
    const first = Number(cached.revision);
    const all = events.every((e, i) => stored[first + i]?.id === e.id);
    if (!all) {
      // Part of the events was written before: the server refuses rather than guessing.
      return { kind: 'wrong_expected_version', currentRevision: BigInt(stored.length - 1), expected: { kind: 'any' } };
    }
    return this.alreadyWritten(stored, first + events.length - 1);
  }

  private write(stream: string, events: readonly ProposedEvent[]): AppendOutcome {
    let state = this.streams.get(stream);
    if (!state) {
      state = { events: [], tombstoned: false };
      this.streams.set(stream, state);
    }
    const created = BigInt(this.now().getTime()) * 10_000n;
    let last: StoredEvent | undefined;
    for (const proposed of events) {
      last = this.record(stream, BigInt(state.events.length), proposed, created);
      state.events.push(last);
      this.remember(last);
    }
    this.notify();
    return { kind: 'success', currentRevision: last!.revision, position: last!.position };
  }

  private record(stream: string, revision: bigint, proposed: ProposedEvent, created: bigint): StoredEvent {
    const event: StoredEvent = { ...proposed, stream, revision, created, position: this.nextPosition };
    this.nextPosition +=
      RECORD_OVERHEAD +
      BigInt(Buffer.byteLength(stream) + Buffer.byteLength(proposed.type) + proposed.data.length + proposed.customMetadata.length);
    this.log.push(event);
    return event;
  }

  private remember(event: StoredEvent) {
    this.recentIds.delete(event.id);
    this.recentIds.set(event.id, { stream: event.stream, revision: event.revision });
    while (this.recentIds.size > this.idempotencyCacheSize) {
      this.recentIds.delete(this.recentIds.keys().next().value!);
    }
  }

  private notify() {
    for (const listener of [...this.listeners]) listener();
  }

  /**
   * Writes a system record, as a node's own services do (statistics, settings, scavenges): no
   * expected-revision check and no id cache, so that it never interferes with a client's appends.
   */
  appendSystem(stream: string, type: string, data: unknown): StoredEvent {
    let state = this.streams.get(stream);
    if (!state) {
      state = { events: [], tombstoned: false };
      this.streams.set(stream, state);
    }
    const created = BigInt(this.now().getTime()) * 10_000n;
    const event = this.record(stream, BigInt(state.events.length), systemEvent(type, data), created);
    state.events.push(event);
    this.notify();
    return event;
  }

  /** How many events the stream holds, hidden ones included: the revision its next event gets. */
  streamLength(stream: string): bigint {
    return BigInt(this.streams.get(stream)?.events.length ?? 0);
  }

  /** True when the stream was hard-deleted. */
  isTombstoned(stream: string): boolean {
    return this.streams.get(stream)?.tombstoned ?? false;
  }

  /** The stream's metadata: the data of the last `$metadata` event of its metastream. */
  metadataOf(stream: string): Record<string, unknown> {
    const meta = this.streams.get(metastreamOf(stream))?.events.at(-1);
    if (!meta) return {};
    try {
      const parsed: unknown = JSON.parse(Buffer.from(meta.data).toString('utf8'));
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }

  private isSoftDeleted(stream: string): boolean {
    const stored = this.streams.get(stream)?.events ?? [];
    const tb = this.metadataOf(stream).$tb;
    return stored.length > 0 && typeof tb === 'number' && BigInt(tb) > BigInt(stored.length - 1);
  }

  /** Lowest revision a stream read returns, after `$tb` and `$maxCount`. */
  private firstVisible(stream: string, length: number): number {
    const meta = this.metadataOf(stream);
    let first = 0;
    if (typeof meta.$tb === 'number') first = Math.max(first, meta.$tb);
    if (typeof meta.$maxCount === 'number' && meta.$maxCount >= 1) first = Math.max(first, length - meta.$maxCount);
    return first;
  }

  /** Reads a stream as clients see it: `$tb` and `$maxCount` applied, deleted streams refused. */
  readStream(
    stream: string,
    from: 'start' | 'end' | bigint,
    direction: 'forwards' | 'backwards',
    count: number,
  ): StreamReadOutcome {
    const state = this.streams.get(stream);
    if (state?.tombstoned) return { kind: 'stream_deleted' };
    const stored = state?.events ?? [];
    const first = this.firstVisible(stream, stored.length);
    if (stored.length === 0 || first >= stored.length) return { kind: 'not_found' };
    const out: StoredEvent[] = [];
    if (direction === 'forwards') {
      const start = from === 'start' ? first : from === 'end' ? stored.length : Math.max(first, Number(from));
      for (let i = start; i < stored.length && out.length < count; i++) out.push(stored[i]!);
    } else {
      const start = from === 'end' ? stored.length - 1 : from === 'start' ? first : Math.min(Number(from), stored.length - 1);
      for (let i = start; i >= first && out.length < count; i--) out.push(stored[i]!);
    }
    return { kind: 'events', events: out };
  }

  /**
   * Reads `$all`. Forwards from a position includes the event at it; backwards from a position
   * returns the events before it.
   */
  readAll(
    from: 'start' | 'end' | bigint,
    direction: 'forwards' | 'backwards',
    count: number,
    filter: AllFilter | undefined,
  ): StoredEvent[] {
    const out: StoredEvent[] = [];
    if (direction === 'forwards') {
      const start = from === 'start' ? 0 : from === 'end' ? this.log.length : this.indexAtOrAfter(from);
      for (let i = start; i < this.log.length && out.length < count; i++) {
        if (matches(this.log[i]!, filter)) out.push(this.log[i]!);
      }
    } else {
      const start = from === 'end' ? this.log.length - 1 : from === 'start' ? -1 : this.indexAtOrAfter(from) - 1;
      for (let i = start; i >= 0 && out.length < count; i--) {
        if (matches(this.log[i]!, filter)) out.push(this.log[i]!);
      }
    }
    return out;
  }

  /** Index in the log of the first event at or after `position`. */
  indexAtOrAfter(position: bigint): number {
    let low = 0;
    let high = this.log.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.log[mid]!.position < position) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * Soft delete: `$tb` past the last event, the rest of the stream's metadata (`$maxCount`, custom
   * keys) kept, as the real server keeps it; the stream can be written again, continuing its revisions.
   */
  softDelete(stream: string, expected: ExpectedRevision): DeleteOutcome {
    const state = this.streams.get(stream);
    if (state?.tombstoned) return { kind: 'stream_deleted' };
    const check = this.checkDelete(stream, expected);
    if (check) return check;
    const length = state?.events.length ?? 0;
    const metadata = { ...this.metadataOf(stream), $tb: length };
    const written = this.write(metastreamOf(stream), [systemEvent('$metadata', metadata)]);
    return { kind: 'success', position: (written as { position: bigint }).position };
  }

  /** Hard delete: the stream is closed for good; `$all` gets a `$streamDeleted` event. */
  tombstone(stream: string, expected: ExpectedRevision): DeleteOutcome {
    let state = this.streams.get(stream);
    if (state?.tombstoned) return { kind: 'stream_deleted' };
    const check = this.checkDelete(stream, expected);
    if (check) return check;
    if (!state) {
      state = { events: [], tombstoned: false };
      this.streams.set(stream, state);
    }
    state.tombstoned = true;
    const created = BigInt(this.now().getTime()) * 10_000n;
    const event = this.record(stream, TOMBSTONE_REVISION, systemEvent('$streamDeleted', {}), created);
    this.notify();
    return { kind: 'success', position: event.position };
  }

  /**
   * The expected-revision check of a delete. A stream that never existed can be deleted under `any`
   * and `no_stream` (the server writes its metadata all the same); a soft-deleted stream counts as
   * not existing for `no_stream`, and `stream_exists` on it is refused as "stream deleted", as the
   * real server refuses it.
   */
  private checkDelete(stream: string, expected: ExpectedRevision): DeleteOutcome | undefined {
    const stored = this.streams.get(stream)?.events ?? [];
    const current = stored.length === 0 ? null : BigInt(stored.length - 1);
    const softDeleted = this.isSoftDeleted(stream);
    if (softDeleted && expected.kind === 'stream_exists') return { kind: 'stream_deleted' };
    const ok =
      expected.kind === 'any' ||
      (expected.kind === 'no_stream' && (current === null || softDeleted)) ||
      (expected.kind === 'stream_exists' && current !== null) ||
      (expected.kind === 'revision' && expected.revision === current);
    return ok ? undefined : { kind: 'wrong_expected_version', currentRevision: current, expected };
  }
}

/** The metastream that holds a stream's metadata. */
export function metastreamOf(stream: string): string {
  return `$$${stream}`;
}

function systemEvent(type: string, data: unknown): ProposedEvent {
  return {
    id: crypto.randomUUID(),
    type,
    contentType: 'application/json',
    data: Buffer.from(JSON.stringify(data)),
    customMetadata: new Uint8Array(),
  };
}

/** True when `event` passes a server-side filter (prefixes: any may match; regex: anywhere in the text). */
export function matches(event: StoredEvent, filter: AllFilter | undefined): boolean {
  if (!filter) return true;
  const text = filter.on === 'stream' ? event.stream : event.type;
  if (filter.prefixes.length > 0 && filter.prefixes.some((p) => text.startsWith(p))) return true;
  if (filter.regex !== undefined && filter.regex !== '' && new RegExp(filter.regex).test(text)) return true;
  return false;
}
