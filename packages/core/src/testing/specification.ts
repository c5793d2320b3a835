import type { Decider } from '../decider.js';
import type { EventOf } from '../events.js';

/** A decider specification failed: the message shows what was expected and what happened. */
export class SpecificationError extends Error {
  override name = 'SpecificationError';
}

/** The `then` part of a specification. */
export interface ThenStep<Event> {
  /** The command produces exactly these events, in order. */
  then(expected: readonly Event[]): void;
  /** The command is already satisfied: it produces no events. */
  thenNothing(): void;
  /** The command is refused with this error class (and, optionally, an error that passes `check`). */
  thenThrows<E extends Error>(errorClass: abstract new (...args: never[]) => E, check?: (error: E) => void): void;
}

/**
 * given / when / then for any decider, with no store and no clock. Here `counter` is a decider whose
 * `Add` command records `Added` events, refuses to go past 10 and does nothing when adding 0:
 *
 * @example
 * const spec = specification(counter);
 * spec.given([]).when({ type: 'Add', amount: 3 }).then([{ type: 'Added', data: { amount: 3 } }]);
 * spec.given([{ type: 'Added', data: { amount: 3 } }]).when({ type: 'Add', amount: 0 }).thenNothing();
 * spec.given([{ type: 'Added', data: { amount: 9 } }]).when({ type: 'Add', amount: 2 }).thenThrows(LimitExceededError);
 */
export function specification<Command, Event extends EventOf, State>(decider: Decider<Command, Event, State>) {
  return {
    given(events: readonly Event[]) {
      return {
        when(command: Command): ThenStep<Event> {
          const run = () => {
            let state = decider.initialState;
            for (const event of events) state = decider.evolve(state, event);
            return decider.decide(command, state);
          };
          return {
            then(expected) {
              const actual = run();
              if (!deepEqual(actual, expected)) {
                throw new SpecificationError(`Expected events\n${show(expected)}\nbut the decider produced\n${show(actual)}`);
              }
            },
            thenNothing() {
              const actual = run();
              if (actual.length > 0) throw new SpecificationError(`Expected no events, got\n${show(actual)}`);
            },
            thenThrows(errorClass, check) {
              let actual: readonly Event[];
              try {
                actual = run();
              } catch (error) {
                if (!(error instanceof errorClass)) {
                  throw new SpecificationError(`Expected ${errorClass.name}, got ${String(error)}`);
                }
                check?.(error);
                return;
              }
              throw new SpecificationError(`Expected ${errorClass.name}, but the decider produced\n${show(actual)}`);
            },
          };
        },
      };
    },
  };
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v), 2);
}

/** Structural equality over JSON-like values (plus bigint and Date); key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
