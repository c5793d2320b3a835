import { WrongExpectedVersionError } from '../errors.js';
import type { EventOf, NewEvent } from '../events.js';
import type { EventStore, StreamAppendOutcome } from '../store/event-store.js';
import { sleep } from '../store/subscription-loop.js';
import { metadataFor, type CommandContext } from './context.js';
import { eventIdFor } from './idempotency.js';
import { DEFAULT_RETRY, backoffDelay, type RetryPolicy } from './retry.js';

/** How one stream of a multi-stream decision is folded: its name, initial state and evolve. */
export interface StreamFold<State> {
  stream: string;
  initialState: State;
  evolve(state: State, event: EventOf): State;
}

/** The folds of a multi-stream decision, by role (e.g. `{ numbering, order }`). */
export type StreamFolds = Record<string, StreamFold<unknown>>;

/** The folded state of each role. */
export type StatesOf<Folds extends StreamFolds> = { [Role in keyof Folds]: Folds[Role]['initialState'] };

/** What a multi-stream decision returns: the events to append, per role; a role left out gets none. */
export type EventsByRole<Folds extends StreamFolds> = { [Role in keyof Folds]?: readonly EventOf[] };

/** What {@link transactStreams} runs on and decides. */
export interface TransactStreamsOptions<Folds extends StreamFolds> {
  store: EventStore;
  /** The streams the decision reads, by role. */
  streams: Folds;
  /** Pure: the states of every stream in, the events for each stream out (throw a domain error to refuse). */
  decide(states: StatesOf<Folds>): EventsByRole<Folds>;
  context: CommandContext;
  retry?: Partial<RetryPolicy>;
  /** Source of randomness for backoff jitter. */
  random?: () => number;
}

/** What a multi-stream command did. */
export interface StreamsCommandResult<Folds extends StreamFolds> {
  /** The states after the command. */
  states: StatesOf<Folds>;
  /** Where each written stream ended (empty when nothing was written). */
  written: StreamAppendOutcome[];
  /** Global position of the command's last event, or `null` when nothing was written. */
  position: bigint | null;
  /** True when the decision produced no events. */
  noop: boolean;
  /** True when this command id had already been applied (found in a stream): nothing was written. */
  duplicate: boolean;
  /** How many read-decide-append rounds it took. */
  attempts: number;
}

interface View {
  state: unknown;
  version: bigint | null;
  /** This command id was found in the stream: the command was applied before. */
  applied: boolean;
}

/**
 * One command that writes to several streams atomically: read and fold every stream, decide on all
 * the states, append each stream's events with `appendToStreams` and the version read. On
 * `WrongExpectedVersionError` only the streams it names are read again (from where the view
 * stopped), then it decides again, with jittered backoff, up to `retry.maxAttempts`. Event ids derive
 * from the command id, so a command retried after a lost answer is recognised (its events are in
 * the streams) and not applied twice. Streams the decision reads but does not write are not
 * guarded by the append; a decision that must not change while one of them changes has to write
 * to it too. Single-stream commands stay with `createCommandHandler`.
 * @throws UnsupportedOperationError when the store cannot append atomically to several streams.
 */
export async function transactStreams<Folds extends StreamFolds>(
  options: TransactStreamsOptions<Folds>,
): Promise<StreamsCommandResult<Folds>> {
  const { store, streams } = options;
  const metadata = metadataFor(options.context);
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const roles = Object.keys(streams) as (keyof Folds & string)[];
  const views = new Map<string, View>(roles.map((role) => [role, { state: streams[role]!.initialState, version: null, applied: false }]));
  await Promise.all(roles.map((role) => catchUpRole(store, streams[role]!, views.get(role)!, metadata.commandId!)));

  for (let attempt = 1; ; attempt++) {
    const states = statesOf<Folds>(views);
    if ([...views.values()].some((view) => view.applied)) {
      return { states, written: [], position: null, noop: false, duplicate: true, attempts: attempt };
    }
    const decided = options.decide(states);
    const requests = roles
      .filter((role) => (decided[role]?.length ?? 0) > 0)
      .map((role) => ({
        role,
        stream: streams[role]!.stream,
        events: decided[role]!.map((event, i): NewEvent => ({
          id: eventIdFor(streams[role]!.stream, metadata.commandId!, i),
          type: event.type,
          data: event.data,
          metadata,
        })),
        expectedVersion: views.get(role)!.version ?? ('no_stream' as const),
      }));
    if (requests.length === 0) return { states, written: [], position: null, noop: true, attempts: attempt, duplicate: false };
    try {
      const appended = await store.appendToStreams(requests);
      for (const request of requests) {
        const view = views.get(request.role)!;
        view.state = decided[request.role]!.reduce((state, event) => streams[request.role]!.evolve(state, event), view.state);
      }
      return {
        states: statesOf<Folds>(views),
        written: appended.streams,
        position: appended.lastGlobalPosition,
        noop: false,
        duplicate: appended.duplicate,
        attempts: attempt,
      };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (attempt >= retry.maxAttempts) throw WrongExpectedVersionError.forStreams(error.streams, attempt);
      await sleep(backoffDelay(retry, attempt, options.random ?? Math.random));
      const stale = new Set(error.streams.map((conflict) => conflict.stream));
      const again = roles.filter((role) => stale.has(streams[role]!.stream));
      await Promise.all(again.map((role) => catchUpRole(store, streams[role]!, views.get(role)!, metadata.commandId!)));
    }
  }
}

/** Reads what the view has not seen of its stream and folds it in. */
async function catchUpRole(store: EventStore, fold: StreamFold<unknown>, view: View, commandId: string): Promise<void> {
  const read = await store.readStream(fold.stream, { fromVersion: view.version === null ? 0n : view.version + 1n });
  for (const event of read.events) {
    view.state = fold.evolve(view.state, event);
    if (event.metadata.commandId === commandId) view.applied = true;
  }
  view.version = read.version;
}

function statesOf<Folds extends StreamFolds>(views: ReadonlyMap<string, View>): StatesOf<Folds> {
  return Object.fromEntries([...views].map(([role, view]) => [role, view.state])) as StatesOf<Folds>;
}
