import {
  CheckpointConflictError,
  OrdoError,
  eventIdFor,
  sleep,
  type CheckpointStore,
} from '@ordo/core';
import {
  appendOptions,
  errorType,
  isTimeout,
  isTransient,
  loose,
  type ClientResolvedEvent,
  type EventStoreClient,
  type LooseClient,
} from './client.js';
import { EventStoreDBError, EventStoreDBTimeoutError, EventStoreDBUnavailableError } from './errors.js';
import { DEFAULT_CHECKPOINT_STREAM_PREFIX } from './event-store.js';

/** Options of {@link EventStoreDBCheckpointStore}. */
export interface EventStoreDBCheckpointStoreOptions {
  /**
   * Prefix of the checkpoint streams (`<prefix><projection name>`). Keep the default unless the
   * event store is told the same in `hiddenStreamPrefixes`: readers of the log must not see them.
   */
  streamPrefix?: string;
  /** `$maxCount` of each checkpoint stream: older checkpoints are dropped (and scavenged). Default 10. */
  maxCount?: number;
  /** Deadline of each call in milliseconds; by default the client's. */
  deadlineMs?: number;
  /** Retries after a dropped connection. Default 3. */
  retries?: number;
}

/** The event type of checkpoint events. */
export const CHECKPOINT_EVENT_TYPE = 'OrdoCheckpoint';

interface Stored {
  position: bigint;
  revision: bigint;
  id: string;
}

/**
 * Projection checkpoints in EventStoreDB: one stream per projection, one event per stored position.
 *
 * - Compare-and-set: a checkpoint is appended with the exact expected revision of the checkpoint it
 *   replaces, so a second copy of the projection that moved it first fences this one out
 *   (`CheckpointConflictError`).
 * - Bounded: the stream's metadata sets `$maxCount`, so it keeps only the latest few events.
 * - Retry-safe: a checkpoint event's id derives from (projection, expected, position); a store
 *   retried after a lost answer finds its own event and succeeds instead of reporting a conflict.
 */
export class EventStoreDBCheckpointStore implements CheckpointStore {
  private readonly client: LooseClient;
  private readonly prefix: string;
  private readonly maxCount: number;
  private readonly deadline: number | undefined;
  private readonly retries: number;
  /** What this instance last read or wrote, per projection: saves a read before each write. */
  private readonly known = new Map<string, Stored | null>();

  constructor(client: EventStoreClient, options: EventStoreDBCheckpointStoreOptions = {}) {
    this.client = loose(client);
    this.prefix = options.streamPrefix ?? DEFAULT_CHECKPOINT_STREAM_PREFIX;
    this.maxCount = options.maxCount ?? 10;
    this.deadline = options.deadlineMs;
    this.retries = options.retries ?? 3;
    if (!Number.isInteger(this.maxCount) || this.maxCount < 1) throw new OrdoError('maxCount must be a positive integer');
  }

  /** The checkpoint stream of projection `name`. */
  streamOf(name: string): string {
    return `${this.prefix}${name}`;
  }

  async read(name: string): Promise<bigint | null> {
    const stored = await this.readStored(name);
    return stored?.position ?? null;
  }

  async store(name: string, position: bigint, expected: bigint | null): Promise<void> {
    const stream = this.streamOf(name);
    const id = eventIdFor(stream, `${expected ?? 'none'}->${position}`, 0);
    let current = this.known.has(name) ? this.known.get(name)! : await this.readStored(name);
    for (let attempt = 0; ; attempt++) {
      if (current?.id === id) return; // this very store already happened (a retry after a lost answer)
      const actual = current?.position ?? null;
      if (actual !== expected) {
        this.known.delete(name);
        throw new CheckpointConflictError(name, expected, actual);
      }
      if (!current) await this.call(() => this.client.setStreamMetadata(stream, { maxCount: this.maxCount }, this.deadlineOption()));
      const event = { id, type: CHECKPOINT_EVENT_TYPE, contentType: 'application/json', data: { position: position.toString() }, metadata: {} };
      try {
        const result = await this.call(() =>
          this.client.appendToStream(stream, [event], appendOptions(current ? current.revision : 'no_stream', this.deadline)),
        );
        if (!result.success) throw Object.assign(new Error('wrong expected version'), { type: 'wrong-expected-version' });
        this.known.set(name, { position, revision: result.nextExpectedRevision, id });
        return;
      } catch (error) {
        if (errorType(error) !== 'wrong-expected-version') throw error;
        // It moved since we looked: read it again, and the loop decides whether it was us.
        current = await this.readStored(name);
        if (attempt >= 2 && current?.id !== id) throw new CheckpointConflictError(name, expected, current?.position ?? null);
      }
    }
  }

  private async readStored(name: string): Promise<Stored | null> {
    const events: ClientResolvedEvent[] = [];
    try {
      await this.call(async () => {
        events.length = 0;
        for await (const e of this.client.readStream(this.streamOf(name), {
          fromRevision: 'end',
          direction: 'backwards',
          maxCount: 1,
          ...this.deadlineOption(),
        })) {
          events.push(e);
        }
      });
    } catch (error) {
      if (errorType(error) !== 'stream-not-found') throw error;
    }
    const event = events[0]?.event;
    const stored = event ? { position: BigInt((event.data as { position: string }).position), revision: event.revision, id: event.id } : null;
    this.known.set(name, stored);
    return stored;
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (isTransient(error) && attempt < this.retries) {
          await sleep(10 * 2 ** attempt);
          continue;
        }
        const message = error instanceof Error ? error.message : String(error);
        if (errorType(error) === 'wrong-expected-version' || errorType(error) === 'stream-not-found') throw error;
        if (isTransient(error)) throw new EventStoreDBUnavailableError(`EventStoreDB is unavailable: ${message}`, { cause: error });
        if (isTimeout(error)) throw new EventStoreDBTimeoutError(`EventStoreDB did not answer in time: ${message}`, { cause: error });
        throw new EventStoreDBError('unknown', `EventStoreDB failed: ${message}`, { cause: error });
      }
    }
  }

  private deadlineOption(): Record<string, unknown> {
    return this.deadline === undefined ? {} : { deadline: this.deadline };
  }
}
