import type { Decider } from '@ordo/core';

/** A tiny decider for the handler tests: a counter that refuses to pass a limit. */
export type CounterCommand = { type: 'Add'; by: number } | { type: 'Reach'; value: number };
export type CounterEvent = { type: 'Added'; data: { by: number } };

/** Thrown when a command would take the counter past its limit. */
export class LimitError extends Error {
  override name = 'LimitError';
}

/** `Reach` is satisfied once the counter is there; `Add` always adds, up to `limit`. */
export function counterDecider(limit = 1000): Decider<CounterCommand, CounterEvent, number> {
  return {
    initialState: 0,
    decide(command, state) {
      const by = command.type === 'Add' ? command.by : command.value - state;
      if (by <= 0) return [];
      if (state + by > limit) throw new LimitError(`${state} + ${by} passes ${limit}`);
      return [{ type: 'Added', data: { by } }];
    },
    evolve: (state, event) => state + event.data.by,
  };
}
