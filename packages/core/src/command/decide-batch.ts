import type { Decider } from '../decider.js';
import type { EventMetadata, EventOf, NewEvent } from '../events.js';
import { eventIdFor, type AppliedCommands } from './idempotency.js';
import type { QueuedJob } from './stream-queue.js';

/** A command waiting in a stream's queue for its result. */
export interface PendingCommand<Command, Result> extends QueuedJob {
  command: Command;
  commandId: string;
  metadata: EventMetadata;
  resolve(result: Result): void;
}

/** What deciding one queued command came to; the result is assembled once the batch is stored. */
export type Outcome<Event extends EventOf, State> =
  /** The decider refused the command. */
  | { kind: 'refused'; error: unknown }
  /**
   * The command id was already applied, before or earlier in this batch: the first result's events.
   * `position` is `null` when the first time is in this very batch.
   */
  | { kind: 'repeated'; events: Event[]; position: bigint | null; state: State }
  /** The command was already satisfied: no events. */
  | { kind: 'satisfied'; state: State }
  /** New events; `end` counts the batch's events up to and including this command's last one. */
  | { kind: 'decided'; events: Event[]; state: State; end: number };

/** A batch decided on the state read: what to append and what each command came to. */
export interface BatchDecision<Event extends EventOf, State> {
  toAppend: NewEvent[];
  /** One per queued command, in queue order. */
  outcomes: Outcome<Event, State>[];
  /** The new events of each command id decided here. */
  decided: Map<string, Event[]>;
  /** The state once every decided event is folded in. */
  state: State;
}

/**
 * Decides a batch in turn, each command on the state the previous ones left. Pure: nothing is read
 * or written. Event ids derive from command ids, so deciding the batch again after a lost race
 * produces the same ids for the commands that decide the same.
 */
export function decideBatch<Command, Event extends EventOf, State>(
  decider: Decider<Command, Event, State>,
  stream: string,
  seen: { state: State; applied: AppliedCommands<Event> },
  batch: readonly PendingCommand<Command, unknown>[],
): BatchDecision<Event, State> {
  let state = seen.state;
  const toAppend: NewEvent[] = [];
  const decided = new Map<string, Event[]>();
  const outcomes = batch.map((pending): Outcome<Event, State> => {
    const { commandId } = pending;
    const before = seen.applied.find(commandId);
    const earlier = decided.get(commandId);
    if (before) return { kind: 'repeated', events: [...before.events], position: before.position, state };
    if (earlier) return { kind: 'repeated', events: earlier, position: null, state };
    let events: readonly Event[];
    try {
      events = decider.decide(pending.command, state);
    } catch (error) {
      return { kind: 'refused', error };
    }
    if (events.length === 0) return { kind: 'satisfied', state };
    events.forEach((event, i) => {
      toAppend.push({ id: eventIdFor(stream, commandId, i), type: event.type, data: event.data, metadata: pending.metadata });
      state = decider.evolve(state, event);
    });
    decided.set(commandId, [...events]);
    return { kind: 'decided', events: [...events], state, end: toAppend.length };
  });
  return { toAppend, outcomes, decided, state };
}
