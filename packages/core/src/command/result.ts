import type { EventOf } from '../events.js';
import type { Outcome, PendingCommand } from './decide-batch.js';

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

/** Where a batch's events landed; with nothing appended, `position` is `null`. */
export interface BatchWrite {
  /** Global position of the batch's last event. */
  position: bigint | null;
  /** Stream version of the batch's first event. */
  firstVersion: bigint;
  /** The stream's version once the batch is stored. */
  version: bigint | null;
}

/** Answers every command of a stored (or empty) batch, in queue order: a result each, or its own error. */
export function settleBatch<Event extends EventOf, State>(
  stream: string,
  batch: readonly PendingCommand<unknown, CommandResult<Event, State>>[],
  outcomes: readonly Outcome<Event, State>[],
  write: BatchWrite,
  attempts: number,
): void {
  outcomes.forEach((outcome, i) => {
    const pending = batch[i]!;
    if (outcome.kind === 'refused') pending.reject(outcome.error);
    else pending.resolve(resultOf(stream, outcome, write, attempts));
  });
}

/** The one place a {@link CommandResult} is assembled from a command's outcome and the batch's write. */
export function resultOf<Event extends EventOf, State>(
  stream: string,
  outcome: Exclude<Outcome<Event, State>, { kind: 'refused' }>,
  write: BatchWrite,
  attempts: number,
): CommandResult<Event, State> {
  const common = { stream, state: outcome.state, attempts };
  switch (outcome.kind) {
    case 'repeated':
      return { ...common, events: outcome.events, position: outcome.position ?? write.position, version: write.version, noop: false, duplicate: true };
    case 'satisfied':
      return { ...common, events: [], position: null, version: write.version, noop: true, duplicate: false };
    case 'decided':
      return {
        ...common,
        events: outcome.events,
        position: write.position,
        version: write.firstVersion + BigInt(outcome.end - 1),
        noop: false,
        duplicate: false,
      };
  }
}
