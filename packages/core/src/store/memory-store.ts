import { DuplicateEventIdError, PartialRetryError, WrongExpectedVersionError } from '../errors.js';
import type { NewEvent, RecordedEvent } from '../events.js';
import {
  START,
  matchesFilter,
  versionMatches,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type MultiStreamAppendResult,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ReadStreamResult,
  type SubscribeOptions,
  type StreamAppendOutcome,
  type StreamAppendRequest,
  type Subscription,
} from './event-store.js';
import { runSubscription } from './subscription-loop.js';
import { DEFAULT_APPEND_LIMITS, validateAppend, validateAppends, validateReadAll, validateReadStream, type AppendLimits } from './validation.js';

/** Options of {@link MemoryEventStore}: append limits and the clock that stamps `recordedAt`. */
export interface MemoryEventStoreOptions {
  limits?: Partial<AppendLimits>;
  /** Clock for `recordedAt`. */
  now?: () => Date;
}

/**
 * The reference {@link EventStore}: everything in one process's memory, and the embedded default.
 * Each append checks and writes in one synchronous step, so it is atomic without locks.
 * Global positions start at 1 and are dense.
 */
export class MemoryEventStore implements EventStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, RecordedEvent>();
  private readonly waiters = new Set<() => void>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly limits: AppendLimits;
  private readonly now: () => Date;
  private closed = false;

  constructor(options: MemoryEventStoreOptions = {}) {
    this.limits = { ...DEFAULT_APPEND_LIMITS, ...options.limits };
    this.now = options.now ?? (() => new Date());
  }

  async appendToStream(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    const valid = validateAppend(stream, events, options?.expectedVersion, this.limits);
    const existing = this.streams.get(stream) ?? [];

    const retried = this.findRetriedAppend(stream, valid);
    if (retried) return retried;

    const actual = existing.length === 0 ? null : BigInt(existing.length - 1);
    if (!versionMatches(options.expectedVersion, actual)) {
      throw new WrongExpectedVersionError(stream, options.expectedVersion, actual);
    }

    const last = this.write(stream, valid, this.now());
    this.wakeSubscribers();
    return { nextExpectedVersion: last.streamVersion, lastGlobalPosition: last.globalPosition, duplicate: false };
  }

  /**
   * Checks every request, then writes them all in one synchronous step: atomic, and contiguous in
   * the log in request order, without locks. A subscriber is woken only after the last one.
   */
  async appendToStreams(requests: readonly StreamAppendRequest[]): Promise<MultiStreamAppendResult> {
    this.assertOpen();
    const valid = validateAppends(requests, this.limits);
    const retried = valid.map((request) => this.findRetriedAppend(request.stream, request.events));
    if (retried.every((r) => r !== undefined)) {
      const streams = retried.map((r, i): StreamAppendOutcome => ({
        stream: valid[i]!.stream,
        nextExpectedVersion: r!.nextExpectedVersion,
        lastGlobalPosition: r!.lastGlobalPosition,
      }));
      return { duplicate: true, streams, lastGlobalPosition: maxPosition(streams) };
    }
    if (retried.some((r) => r !== undefined)) {
      throw new PartialRetryError(
        valid.filter((_, i) => retried[i] !== undefined).map((r) => r.stream),
        valid.filter((_, i) => retried[i] === undefined).map((r) => r.stream),
      );
    }
    const conflicts = valid
      .map(({ stream, expectedVersion }) => ({ stream, expected: expectedVersion, actual: this.versionOf(stream) }))
      .filter(({ expected, actual }) => !versionMatches(expected, actual));
    if (conflicts.length > 0) throw WrongExpectedVersionError.forStreams(conflicts);

    const recordedAt = this.now();
    const streams = valid.map(({ stream, events }): StreamAppendOutcome => {
      const last = this.write(stream, events, recordedAt);
      return { stream, nextExpectedVersion: last.streamVersion, lastGlobalPosition: last.globalPosition };
    });
    this.wakeSubscribers();
    return { duplicate: false, streams, lastGlobalPosition: maxPosition(streams) };
  }

  private versionOf(stream: string): bigint | null {
    const length = this.streams.get(stream)?.length ?? 0;
    return length === 0 ? null : BigInt(length - 1);
  }

  /** Adds checked events to the stream and the log; returns the last one. */
  private write(stream: string, events: readonly NewEvent[], recordedAt: Date): RecordedEvent {
    const existing = this.streams.get(stream) ?? [];
    const recorded = events.map(
      (event, i): RecordedEvent => ({
        id: event.id,
        type: event.type,
        data: event.data,
        metadata: event.metadata ?? {},
        streamName: stream,
        streamVersion: BigInt(existing.length + i),
        globalPosition: BigInt(this.log.length + i + 1),
        recordedAt,
      }),
    );
    for (const event of recorded) {
      existing.push(event);
      this.log.push(event);
      this.byId.set(event.id, event);
    }
    this.streams.set(stream, existing);
    return recorded[recorded.length - 1]!;
  }

  private wakeSubscribers() {
    for (const wake of [...this.waiters]) wake();
  }

  /**
   * A retry is recognised by its ids: if the batch's ids are already stored, consecutively and in
   * order in this stream, the append already happened and its original result is returned. Ids
   * stored any other way are a {@link DuplicateEventIdError}.
   */
  private findRetriedAppend(stream: string, events: readonly NewEvent[]): AppendResult | undefined {
    const first = this.byId.get(events[0]!.id);
    if (!first) {
      const clash = events.find((event) => this.byId.has(event.id));
      if (clash) throw new DuplicateEventIdError(stream, clash.id);
      return undefined;
    }
    const streamEvents = this.streams.get(stream) ?? [];
    const start = Number(first.streamVersion);
    const sameBatch =
      first.streamName === stream && events.every((event, i) => streamEvents[start + i]?.id === event.id);
    if (!sameBatch) throw new DuplicateEventIdError(stream, first.id);
    const last = streamEvents[start + events.length - 1]!;
    return { nextExpectedVersion: last.streamVersion, lastGlobalPosition: last.globalPosition, duplicate: true };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    this.assertOpen();
    validateReadStream(stream, options);
    const events = this.streams.get(stream) ?? [];
    const version = events.length === 0 ? null : BigInt(events.length - 1);
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    let selected: RecordedEvent[];
    if (options.direction === 'backwards') {
      const from = options.fromVersion === undefined ? events.length - 1 : Math.min(Number(options.fromVersion), events.length - 1);
      selected = [];
      for (let v = from; v >= 0 && selected.length < maxCount; v--) selected.push(events[v]!);
    } else {
      const from = Number(options.fromVersion ?? 0n);
      selected = events.slice(from, from + Math.min(maxCount, events.length));
    }
    return { version, events: selected.map(copyOf) };
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    validateReadAll(options);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    // Positions are dense and start at 1, so "after p" starts at index p.
    for (let i = Number(options.after ?? START); i < this.log.length && remaining > 0; i++) {
      const event = this.log[i]!;
      if (!matchesFilter(event, options.filter)) continue;
      remaining--;
      yield copyOf(event);
    }
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    this.assertOpen();
    validateReadAll({ ...(options.after !== undefined && { after: options.after }), ...(options.filter !== undefined && { filter: options.filter }) }, 'subscription');
    const subscription = runSubscription(
      {
        readPage: async (after, filter, maxCount) => {
          const events: RecordedEvent[] = [];
          let i = Number(after);
          for (; i < this.log.length && events.length < maxCount; i++) {
            if (matchesFilter(this.log[i]!, filter)) events.push(copyOf(this.log[i]!));
          }
          return { events, position: BigInt(i) };
        },
        waitForEvents: (position, signal) =>
          new Promise<void>((resolve) => {
            if (signal.aborted || BigInt(this.log.length) > position) return resolve();
            const wake = () => {
              this.waiters.delete(wake);
              signal.removeEventListener('abort', wake);
              resolve();
            };
            this.waiters.add(wake);
            signal.addEventListener('abort', wake, { once: true });
          }),
      },
      options,
    );
    this.subscriptions.add(subscription);
    void subscription.done.then(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async headPosition(): Promise<bigint> {
    return BigInt(this.log.length);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }

  private assertOpen() {
    if (this.closed) throw new Error('MemoryEventStore is closed');
  }
}

function maxPosition(streams: readonly StreamAppendOutcome[]): bigint {
  return streams.reduce((max, s) => (s.lastGlobalPosition > max ? s.lastGlobalPosition : max), START);
}

/** A reader's own copy of a stored event, so that changing what it read cannot change the store. */
function copyOf(event: RecordedEvent): RecordedEvent {
  return {
    ...event,
    data: structuredClone(event.data),
    metadata: structuredClone(event.metadata),
    recordedAt: new Date(event.recordedAt.getTime()),
  };
}
