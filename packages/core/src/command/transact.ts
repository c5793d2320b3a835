import type { Decider } from '../decider.js';
import {
  isAppendOutcomeUnknownError,
  isStoreUnavailableError,
  isWrongExpectedVersionError,
  WrongExpectedVersionError,
} from '../errors.js';
import type { EventOf, RecordedEvent } from '../events.js';
import type { AppendResult, EventStore } from '../store/event-store.js';
import { sleep } from '../store/subscription-loop.js';
import { decideBatch, type PendingCommand } from './decide-batch.js';
import { AppliedCommands } from './idempotency.js';
import { settleBatch, type CommandResult } from './result.js';
import { backoffDelay, type RetryPolicy } from './retry.js';

/** What a handler knows of a stream while commands for it are queued. */
export interface StreamView<Event extends EventOf, State> {
  state: State;
  version: bigint | null;
  applied: AppliedCommands<Event>;
}

/** What the transact loop runs on. */
export interface TransactDeps<Command, Event extends EventOf, State> {
  store: EventStore;
  decider: Decider<Command, Event, State>;
  retry: RetryPolicy;
  random: () => number;
}

/** A view of a stream not read yet. */
export function emptyView<Event extends EventOf, State>(decider: Decider<unknown, Event, State>): StreamView<Event, State> {
  return { state: decider.initialState, version: null, applied: new AppliedCommands<Event>() };
}

/**
 * Reads the events after the view's version (all of them on an empty view) and folds them in: after
 * a lost race the handler reads only what it missed. `history`, when given, receives them.
 */
export async function catchUp<Event extends EventOf, State>(
  store: EventStore,
  decider: Decider<unknown, Event, State>,
  stream: string,
  view: StreamView<Event, State>,
  history?: RecordedEvent<Event['type'], Event['data']>[],
): Promise<void> {
  const read = await store.readStream(stream, { fromVersion: view.version === null ? 0n : view.version + 1n });
  for (const event of read.events as RecordedEvent<Event['type'], Event['data']>[]) {
    view.state = decider.evolve(view.state, event as unknown as Event);
    view.applied.recordRead(event);
    history?.push(event);
  }
  view.version = read.version;
}

/**
 * The transact loop for one batch: decide on the view, append with the version read; on
 * `WrongExpectedVersionError` wait a jittered backoff, catch up and decide again, up to
 * `retry.maxAttempts` (then the error escapes with `attempts`). Any other append error may be one
 * command's events refused by the store, so a batch of several is then retried one command at a time.
 * An append the store reports as a duplicate was stored by another handler first: the loop catches
 * up and answers each command from the stored events.
 */
export async function transactBatch<Command, Event extends EventOf, State>(
  deps: TransactDeps<Command, Event, State>,
  stream: string,
  view: StreamView<Event, State>,
  batch: PendingCommand<Command, CommandResult<Event, State>>[],
): Promise<void> {
  const { store, decider, retry } = deps;
  for (let attempt = 1; ; attempt++) {
    const decision = decideBatch(decider, stream, view, batch);
    if (decision.toAppend.length === 0) {
      settleBatch(stream, batch, decision.outcomes, { position: null, firstVersion: 0n, version: view.version }, attempt);
      return;
    }
    let appended: AppendResult;
    try {
      appended = await store.appendToStream(stream, decision.toAppend, {
        expectedVersion: view.version === null ? 'no_stream' : view.version,
      });
    } catch (error) {
      if (!isWrongExpectedVersionError(error)) return commandByCommand(deps, stream, view, batch, error);
      if (attempt >= retry.maxAttempts) {
        throw new WrongExpectedVersionError(error.stream, error.expected, error.actual, attempt);
      }
      await sleep(backoffDelay(retry, attempt, deps.random));
      await catchUp(store, decider, stream, view);
      continue;
    }
    if (appended.duplicate) {
      // Another handler stored these commands first: the ids are the same, but its decision may
      // have been made on another state. Catch up and answer from what is stored (duplicate: true).
      if (attempt >= retry.maxAttempts) {
        throw new WrongExpectedVersionError(stream, view.version === null ? 'no_stream' : view.version, view.version, attempt);
      }
      await catchUp(store, decider, stream, view);
      continue;
    }
    // Stored: fold the batch into the view, then answer every command.
    const firstVersion = appended.nextExpectedVersion - BigInt(decision.toAppend.length - 1);
    view.state = decision.state;
    view.version = appended.nextExpectedVersion;
    view.applied.recordAppended(decision.decided, appended.lastGlobalPosition);
    settleBatch(stream, batch, decision.outcomes, { position: appended.lastGlobalPosition, firstVersion, version: view.version }, attempt);
    return;
  }
}

/** After a store error other than a conflict: a lone command fails with it; a batch is retried one command at a time. */
async function commandByCommand<Command, Event extends EventOf, State>(
  deps: TransactDeps<Command, Event, State>,
  stream: string,
  view: StreamView<Event, State>,
  batch: PendingCommand<Command, CommandResult<Event, State>>[],
  error: unknown,
): Promise<void> {
  // Not after an outage: a batch whose outcome is unknown is sent again whole, or not at all.
  if (batch.length <= 1 || isStoreUnavailableError(error) || isAppendOutcomeUnknownError(error)) throw error;
  for (const pending of batch) {
    await transactBatch(deps, stream, view, [pending]).catch((e: unknown) => pending.reject(e));
  }
}
