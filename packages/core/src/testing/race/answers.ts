import type { EventOf } from '../../events.js';

/** What one caller was told. */
export type Answer =
  /** The command was applied (or recognised as already applied): these are its events. */
  | { kind: 'events'; events: readonly EventOf[]; duplicate: boolean }
  /** The command was already satisfied: nothing to write. */
  | { kind: 'noop' }
  /** The decider refused the command with a domain error of this name. */
  | { kind: 'refused'; error: string }
  /** A concurrency or availability error: the caller may retry; nothing may have been written for it. */
  | { kind: 'gave-up'; error: string };

/** One call of one command by one caller, with when it started and ended (logical time). */
export interface Call<Command> {
  /** Who called, e.g. `caller#3`. */
  caller: string;
  stream: string;
  commandId: string;
  command: Command;
  invokedAt: number;
  respondedAt: number;
  answer: Answer;
}

/** The user's check over every stream's state; throw, or return `false` or a message, to fail it. */
export type RaceInvariant<State> = (states: ReadonlyMap<string, State>) => void | boolean | string;

/** Runs an invariant and returns what failed, if anything. */
export function invariantFailure<State>(invariant: RaceInvariant<State>, states: ReadonlyMap<string, State>): string | undefined {
  try {
    const verdict = invariant(states);
    if (verdict === false) return 'returned false';
    if (typeof verdict === 'string') return verdict;
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The (type, data) of events, for comparing what was decided with what was stored. */
export function shapes(events: readonly EventOf[]): string {
  return JSON.stringify(events.map((e) => ({ type: e.type, data: e.data })), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}
