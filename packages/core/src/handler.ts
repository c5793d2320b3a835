import { v5 as uuidv5 } from 'uuid';
import type { Decider } from './decider.js';
import { WrongExpectedVersionError } from './errors.js';
import type { EventMetadata, EventOf, NewEvent, RecordedEvent } from './events.js';
import type { EventStore } from './store/event-store.js';
import { sleep } from './store/subscription-loop.js';

/** How the handler retries after losing an optimistic-concurrency race. */
export interface RetryPolicy {
  /** Tries in all, the first included. Default 25: enough for dozens of writers on one stream. */
  maxAttempts: number;
  /** Backoff is full jitter: a random delay up to `min(maxDelayMs, baseDelayMs * 2^(attempt-1))`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 25, baseDelayMs: 2, maxDelayMs: 100 };

/** Who asked, and why: copied into every event's metadata. */
export interface CommandContext {
  /**
   * Identifies the request. Send the same id when retrying after a lost response: the retry is
   * recognised and returns the first result instead of acting twice.
   */
  commandId: string;
  actor?: string;
  correlationId?: string;
  causationId?: string;
  /** When the command was issued. */
  occurredAt?: Date;
  /** Extras to record on every event (must be JSON). */
  metadata?: Record<string, unknown>;
}

/** What handling a command did. */
export interface CommandResult<Event extends EventOf, State> {
  stream: string;
  /** The events this command produced (on a retried command: the ones stored the first time). */
  events: Event[];
  /** Global position of the last of those events; wait for it to read your own writes in projections. */
  position: bigint | null;
  /** State after the command. */
  state: State;
  /** The stream's version after the command, `null` if it still does not exist. */
  version: bigint | null;
  /** True when the decision produced no events (the command was already satisfied). */
  noop: boolean;
  /** True when this command id had already been applied: nothing new was written. */
  duplicate: boolean;
  /** How many read-decide-append rounds it took. */
  attempts: number;
}

export interface CommandHandlerOptions<Command, Event extends EventOf, State> {
  store: EventStore;
  decider: Decider<Command, Event, State>;
  retry?: Partial<RetryPolicy>;
  /** Source of randomness for backoff jitter (tests make it deterministic). */
  random?: () => number;
}

/** Runs commands against streams: read → fold → decide → append with the version read. */
export interface CommandHandler<Command, Event extends EventOf, State> {
  handle(stream: string, command: Command, context: CommandContext): Promise<CommandResult<Event, State>>;
  /** Reads and folds a stream, without deciding anything. */
  load(stream: string): Promise<{ state: State; version: bigint | null; events: RecordedEvent<Event['type'], Event['data']>[] }>;
}

const EVENT_ID_NAMESPACE = '4f0d7f0e-5f2b-4c1b-9c53-0a1e3d7c2b61';

/**
 * The id of the `index`-th event that command `commandId` produces on `stream`. Deterministic, so
 * a command retried after a lost response produces the same ids and the store absorbs it.
 */
export function eventIdFor(stream: string, commandId: string, index: number): string {
  return uuidv5(`${stream}\n${commandId}\n${index}`, EVENT_ID_NAMESPACE);
}

/**
 * Creates a command handler. On `WrongExpectedVersionError` it reads only the events it missed,
 * folds them onto the state it had, and decides again, with jittered backoff, up to
 * `retry.maxAttempts`; then the error escapes with `attempts` set.
 */
export function createCommandHandler<Command, Event extends EventOf, State>(
  options: CommandHandlerOptions<Command, Event, State>,
): CommandHandler<Command, Event, State> {
  const { store, decider } = options;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const random = options.random ?? Math.random;
  type Stored = RecordedEvent<Event['type'], Event['data']>;

  async function readFrom(stream: string, state: State, version: bigint | null, history: Stored[]) {
    const fromVersion = version === null ? 0n : version + 1n;
    const read = await store.readStream(stream, { fromVersion });
    let next = state;
    for (const event of read.events as Stored[]) {
      next = decider.evolve(next, event as unknown as Event);
      history.push(event);
    }
    return { state: next, version: read.version };
  }

  return {
    async load(stream) {
      const events: Stored[] = [];
      const { state, version } = await readFrom(stream, decider.initialState, null, events);
      return { state, version, events };
    },

    async handle(stream, command, context) {
      if (!context || typeof context.commandId !== 'string' || context.commandId.length === 0) {
        throw new TypeError('handle() needs a context with a non-empty commandId');
      }
      const metadata: EventMetadata = {
        ...context.metadata,
        commandId: context.commandId,
        ...(context.actor !== undefined && { actor: context.actor }),
        ...(context.correlationId !== undefined && { correlationId: context.correlationId }),
        ...(context.causationId !== undefined && { causationId: context.causationId }),
        occurredAt: (context.occurredAt ?? new Date()).toISOString(),
      };
      const history: Stored[] = [];
      let { state, version } = await readFrom(stream, decider.initialState, null, history);

      for (let attempt = 1; ; attempt++) {
        const already = history.filter((event) => event.metadata.commandId === context.commandId);
        if (already.length > 0) {
          return {
            stream,
            events: already.map((event) => ({ type: event.type, data: event.data }) as Event),
            position: already[already.length - 1]!.globalPosition,
            state,
            version,
            noop: false,
            duplicate: true,
            attempts: attempt,
          };
        }
        const decided = decider.decide(command, state);
        if (decided.length === 0) {
          return { stream, events: [], position: null, state, version, noop: true, duplicate: false, attempts: attempt };
        }
        const events: NewEvent[] = decided.map((event, i) => ({
          id: eventIdFor(stream, context.commandId, i),
          type: event.type,
          data: event.data,
          metadata,
        }));
        try {
          const result = await store.appendToStream(stream, events, {
            expectedVersion: version === null ? 'no_stream' : version,
          });
          for (const event of decided) state = decider.evolve(state, event);
          return {
            stream,
            events: [...decided],
            position: result.lastGlobalPosition,
            state,
            version: result.nextExpectedVersion,
            noop: false,
            duplicate: false,
            attempts: attempt,
          };
        } catch (error) {
          if (!(error instanceof WrongExpectedVersionError)) throw error;
          if (attempt >= retry.maxAttempts) {
            throw new WrongExpectedVersionError(error.stream, error.expected, error.actual, attempt);
          }
          const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
          await sleep(random() * ceiling);
          ({ state, version } = await readFrom(stream, state, version, history));
        }
      }
    },
  };
}
