import { v5 as uuidv5 } from 'uuid';
import type { Decider } from './decider.js';
import { AppendOutcomeUnknownError, StoreUnavailableError, WrongExpectedVersionError } from './errors.js';
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
  /**
   * True when this command id had already been applied: nothing new was written. Recognised from
   * the stream this handler read, or from the store reporting the append as an absorbed duplicate
   * (another instance stored the same command first). A command that was a no-op leaves no trace,
   * so sending it again decides it again on the current state.
   */
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
 *
 * Commands for one stream that arrive while another is being handled by this handler wait in a
 * queue and are then decided together, one after the other on the evolving state, and appended in
 * one batch: writers in one process never race each other for the same stream, so contention costs
 * round trips only between processes. Each command still gets its own result or its own error.
 */
export function createCommandHandler<Command, Event extends EventOf, State>(
  options: CommandHandlerOptions<Command, Event, State>,
): CommandHandler<Command, Event, State> {
  const { store, decider } = options;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const random = options.random ?? Math.random;
  type Stored = RecordedEvent<Event['type'], Event['data']>;
  type Result = CommandResult<Event, State>;

  interface Pending {
    command: Command;
    context: CommandContext;
    metadata: EventMetadata;
    resolve(result: Result): void;
    reject(error: unknown): void;
  }

  /** What this handler knows of a stream while commands for it are queued. */
  interface Loaded {
    state: State;
    version: bigint | null;
    /** Events of each command id seen in the stream: how a retried command is recognised. */
    byCommand: Map<string, Stored[]>;
  }

  const queues = new Map<string, Pending[]>();

  async function readFrom(stream: string, loaded: Loaded, history?: Stored[]) {
    const fromVersion = loaded.version === null ? 0n : loaded.version + 1n;
    const read = await store.readStream(stream, { fromVersion });
    for (const event of read.events as Stored[]) {
      loaded.state = decider.evolve(loaded.state, event as unknown as Event);
      const commandId = event.metadata.commandId;
      if (typeof commandId === 'string') loaded.byCommand.set(commandId, [...(loaded.byCommand.get(commandId) ?? []), event]);
      history?.push(event);
    }
    loaded.version = read.version;
  }

  /** Handles the queue of `stream` until it is empty, a batch at a time. */
  async function drain(stream: string) {
    const loaded: Loaded = { state: decider.initialState, version: null, byCommand: new Map() };
    try {
      await readFrom(stream, loaded);
      for (let queue = queues.get(stream)!; queue.length > 0; ) {
        const batch = queue.splice(0, 100);
        await handleBatch(stream, loaded, batch).catch((error: unknown) => batch.forEach((p) => p.reject(error)));
      }
    } catch (error) {
      for (const pending of queues.get(stream) ?? []) pending.reject(error);
    } finally {
      queues.delete(stream);
    }
  }

  async function handleBatch(stream: string, loaded: Loaded, batch: Pending[]) {
    for (let attempt = 1; ; attempt++) {
      let state = loaded.state;
      const events: NewEvent[] = [];
      const outcomes: (() => void)[] = [];
      /** Command ids decided in this batch, so a repeat within the batch is recognised too. */
      const decidedHere = new Map<string, Event[]>();
      for (const pending of batch) {
        const { commandId } = pending.context;
        const stored = loaded.byCommand.get(commandId);
        const repeated = decidedHere.get(commandId);
        if (stored || repeated) {
          // Already applied (before, or earlier in this batch): answer with the first result.
          const already = stored ? stored.map((e) => ({ type: e.type, data: e.data }) as Event) : repeated!;
          const at = state;
          outcomes.push(() => {
            const position = stored ? stored[stored.length - 1]!.globalPosition : appendedPosition;
            pending.resolve(result(stream, already, position, at, loaded.version, false, true, attempt));
          });
          continue;
        }
        let decided: readonly Event[];
        try {
          decided = decider.decide(pending.command, state);
        } catch (error) {
          outcomes.push(() => pending.reject(error));
          continue;
        }
        if (decided.length === 0) {
          const at = state;
          outcomes.push(() => pending.resolve(result(stream, [], null, at, loaded.version, true, false, attempt)));
          continue;
        }
        decided.forEach((event, i) => {
          events.push({ id: eventIdFor(stream, commandId, i), type: event.type, data: event.data, metadata: pending.metadata });
          state = decider.evolve(state, event);
        });
        decidedHere.set(commandId, [...decided]);
        const after = state;
        const end = events.length;
        outcomes.push(() => {
          // Versions and positions are known once the batch is stored (see below).
          pending.resolve(result(stream, [...decided], appendedPosition, after, versionAt(end), false, absorbed, attempt));
        });
      }
      if (events.length === 0) {
        outcomes.forEach((settle) => settle());
        return;
      }

      let appendedPosition: bigint | null = null;
      /** The store already held these events: another handler (another process) stored this command first. */
      let absorbed = false;
      let firstVersion = 0n;
      const versionAt = (end: number) => firstVersion + BigInt(end - 1);
      try {
        const appended = await store.appendToStream(stream, events, {
          expectedVersion: loaded.version === null ? 'no_stream' : loaded.version,
        });
        appendedPosition = appended.lastGlobalPosition;
        absorbed = appended.duplicate === true;
        firstVersion = appended.nextExpectedVersion - BigInt(events.length - 1);
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) {
          // One command's events may be what the store refused: then each command goes alone.
          // Not after an outage: a batch whose outcome is unknown must be sent again whole, or not at all.
          const outage = error instanceof StoreUnavailableError || error instanceof AppendOutcomeUnknownError;
          if (batch.length > 1 && !outage) {
            for (const pending of batch) {
              await handleBatch(stream, loaded, [pending]).catch((e: unknown) => pending.reject(e));
            }
            return;
          }
          throw error;
        }
        if (attempt >= retry.maxAttempts) {
          throw new WrongExpectedVersionError(error.stream, error.expected, error.actual, attempt);
        }
        const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
        await sleep(random() * ceiling);
        await readFrom(stream, loaded);
        continue;
      }
      // Stored: fold the batch into what this handler knows, then answer every command.
      loaded.state = state;
      loaded.version = versionAt(events.length);
      for (const [commandId, decided] of decidedHere) {
        loaded.byCommand.set(
          commandId,
          decided.map((e) => ({ ...e, metadata: { commandId }, globalPosition: appendedPosition! }) as unknown as Stored),
        );
      }
      outcomes.forEach((settle) => settle());
      return;
    }
  }

  function result(
    stream: string,
    events: Event[],
    position: bigint | null,
    state: State,
    version: bigint | null,
    noop: boolean,
    duplicate: boolean,
    attempts: number,
  ): Result {
    return { stream, events, position, state, version, noop, duplicate, attempts };
  }

  return {
    async load(stream) {
      const events: Stored[] = [];
      const loaded: Loaded = { state: decider.initialState, version: null, byCommand: new Map() };
      await readFrom(stream, loaded, events);
      return { state: loaded.state, version: loaded.version, events };
    },

    handle(stream, command, context) {
      if (!context || typeof context.commandId !== 'string' || context.commandId.length === 0) {
        return Promise.reject(new TypeError('handle() needs a context with a non-empty commandId'));
      }
      const metadata: EventMetadata = {
        ...context.metadata,
        commandId: context.commandId,
        ...(context.actor !== undefined && { actor: context.actor }),
        ...(context.correlationId !== undefined && { correlationId: context.correlationId }),
        ...(context.causationId !== undefined && { causationId: context.causationId }),
        occurredAt: (context.occurredAt ?? new Date()).toISOString(),
      };
      return new Promise<Result>((resolve, reject) => {
        const queue = queues.get(stream);
        const pending: Pending = { command, context, metadata, resolve, reject };
        if (queue) {
          queue.push(pending);
          return;
        }
        queues.set(stream, [pending]);
        void drain(stream);
      });
    },
  };
}
