import type { Decider } from '../../decider.js';
import type { EventOf, RecordedEvent } from '../../events.js';
import { invariantFailure, type RaceInvariant } from './answers.js';

/**
 * Walks the log in global order, folding each stream, and checks the invariant after every
 * command's events (and once on the empty store): every state the system went through must hold.
 * @returns the first failure, named by the command after which it broke.
 */
export function invariantViolation<Event extends EventOf, State>(
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  log: readonly RecordedEvent[],
  invariant: RaceInvariant<State>,
): string | undefined {
  const states = new Map<string, State>();
  const initial = invariantFailure(invariant, states);
  if (initial) return `invariant fails on the empty store: ${initial}`;
  for (let i = 0; i < log.length; i++) {
    const event = log[i]!;
    states.set(event.streamName, decider.evolve(states.get(event.streamName) ?? decider.initialState, event as unknown as Event));
    const next = log[i + 1];
    const endOfCommand = !next || next.streamName !== event.streamName || next.metadata.commandId !== event.metadata.commandId;
    if (!endOfCommand) continue;
    const failure = invariantFailure(invariant, states);
    if (failure) return `invariant fails after command ${String(event.metadata.commandId)} (${event.streamName} v${event.streamVersion}): ${failure}`;
  }
  return undefined;
}
