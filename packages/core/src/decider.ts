import type { EventOf } from './events.js';

/**
 * A pure state machine: which events a command produces, and how events change state.
 * `decide` and `evolve` do no I/O and read no clock: time, ids and the actor arrive on the command,
 * so a decision can be replayed and tested with plain values.
 *
 * `decide` returns `[]` when the command is already satisfied (asking for a state the entity is
 * already in), and throws a typed domain error when the command is not allowed.
 */
export interface Decider<Command, Event extends EventOf, State> {
  readonly initialState: State;
  decide(command: Command, state: State): readonly Event[];
  evolve(state: State, event: Event): State;
}

/** Folds events into state, starting from `state` (by default the decider's initial state). */
export function fold<Event extends EventOf, State>(
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  events: Iterable<Event>,
  state: State = decider.initialState,
): State {
  let current = state;
  for (const event of events) current = decider.evolve(current, event);
  return current;
}
