/**
 * What every benchmarked store offers the scenarios. Versions are counted the same way for all
 * stores: `expected` is the number of events the writer believes the stream has (0: a new stream),
 * and each adapter maps it onto its own convention.
 */

export type StoreName = 'minimal' | 'ordo' | 'emmett';

export const STORE_LABELS: Record<StoreName, string> = {
  minimal: 'minimal (pg, one INSERT)',
  ordo: 'Ordo (@ordo/postgres)',
  emmett: 'emmett-postgresql 0.42.0',
};

export interface BenchEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** How a contended command went. */
export interface CommandOutcome {
  /** Read-decide-append rounds, the first included (conflicts = attempts - 1). */
  attempts: number;
  /** Set when the command failed (retry budget spent, or anything else). */
  error?: unknown;
}

/** The counter that the contended-stream commands advance: one event per command, `n` = count. */
export interface CounterEvent {
  type: 'Incremented';
  data: { n: number; writer: number };
}

export interface CatchUpOptions {
  /** Called once per delivered event with its `data`. */
  onEvent(data: Record<string, unknown>): void;
}

export interface BenchStore {
  readonly name: StoreName;
  /**
   * Appends `events` to `stream`. `expected` is the number of events already in the stream
   * (0 for a new stream, which must not exist). Throws on a conflict.
   */
  append(stream: string, events: BenchEvent[], expected: number): Promise<void>;
  /** Reads a whole stream; returns the events' `data`. */
  readStream(stream: string): Promise<Record<string, unknown>[]>;
  /**
   * One command on the counter stream, the store's way: read, decide (`n` = events so far),
   * append with the expected version, retry on conflict with the same backoff policy for all.
   */
  command(stream: string, writer: number): Promise<CommandOutcome>;
  /**
   * Runs the store's projection mechanism from the start of the log until it reports that nothing
   * is left (not until a count is reached: events delivered twice must not hide events missed),
   * calling `onEvent` for each delivery.
   */
  catchUp(options: CatchUpOptions): Promise<void>;
  /**
   * Reads the whole log with the store's plain read (no projection machinery), calling `onEvent`
   * per event: the yardstick of the store's own catch-up. Absent where the store has none.
   */
  readAll?(options: CatchUpOptions): Promise<void>;
  close(): Promise<void>;
}

/**
 * Conflict retries for the contended scenario, the same for all stores: Ordo's default policy
 * (25 attempts, full-jitter backoff from 2 ms doubling to at most 100 ms).
 */
export const RETRY = { maxAttempts: 25, baseDelayMs: 2, maxDelayMs: 100 } as const;

export function backoffMs(attempt: number): number {
  return Math.random() * Math.min(RETRY.maxDelayMs, RETRY.baseDelayMs * 2 ** (attempt - 1));
}

export const POOL_SIZE = 20;

/** Connections of the pool a service gives its projections (checkout scenarios): apart from request traffic. */
export const PROJECTION_POOL_SIZE = 4;
