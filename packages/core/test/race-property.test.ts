/**
 * The concurrency kit on a small decider: a correct one passes; a decider that reads state it did
 * not fold, one that decides from a clock, a store that loses updates, a store that cannot absorb a
 * re-sent command and a store that acknowledges writes it dropped are each caught, with a timeline.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryEventStore, WrongExpectedVersionError, type Decider, type EventStore, type NewEvent } from '@ordo/core';
import { raceCommands, raceProperty, RaceViolationError } from '@ordo/core/testing/race';

type TallyCommand = { type: 'add'; amount: number } | { type: 'reset' };
type TallyEvent = { type: 'Added'; data: { amount: number; total: number } } | { type: 'Reset'; data: { from: number } };

class LimitError extends Error {
  override name = 'LimitError';
}

/** A tally that may not exceed 10; reset on zero is already satisfied. */
const tally: Decider<TallyCommand, TallyEvent, number> = {
  initialState: 0,
  decide(command, total) {
    if (command.type === 'reset') return total === 0 ? [] : [{ type: 'Reset', data: { from: total } }];
    if (total + command.amount > 10) throw new LimitError(`${total} + ${command.amount} exceeds 10`);
    return [{ type: 'Added', data: { amount: command.amount, total: total + command.amount } }];
  },
  evolve: (total, event) => (event.type === 'Added' ? event.data.total : 0),
};

const tallyCommand: fc.Arbitrary<TallyCommand> = fc.oneof(
  fc.record({ type: fc.constant('add' as const), amount: fc.integer({ min: 1, max: 4 }) }),
  fc.constant({ type: 'reset' as const }),
);
const commands = raceCommands({ streams: ['tally-a', 'tally-b'], command: tallyCommand, maxCommands: 7 });

/** Runs the property and returns the violation it found, or undefined when it held. */
async function firstViolation(property: ReturnType<typeof raceProperty>, numRuns = 200): Promise<RaceViolationError | undefined> {
  const details = await fc.check(property, { numRuns });
  if (!details.failed) return undefined;
  expect(details.errorInstance).toBeInstanceOf(RaceViolationError);
  return details.errorInstance as RaceViolationError;
}

/** Wraps a store, replacing its appends. */
function withAppend(store: EventStore, append: EventStore['appendToStream']): EventStore {
  return new Proxy(store, {
    get: (target, key) => (key === 'appendToStream' ? append : (Reflect.get(target, key) as unknown) instanceof Function ? (Reflect.get(target, key) as (...a: unknown[]) => unknown).bind(target) : Reflect.get(target, key)),
  });
}

describe('raceProperty', () => {
  it('a correct decider on the memory store passes 300 interleavings, with the invariant checked at every step', async () => {
    let checked = 0;
    const property = raceProperty({
      decider: tally,
      commands,
      invariant: (states) => {
        checked++;
        return [...states.values()].every((total) => total >= 0 && total <= 10) || 'a total left 0..10';
      },
    });
    expect(await firstViolation(property, 300)).toBeUndefined();
    expect(checked).toBeGreaterThan(300);
  });

  it('catches a decider that reads state it did not fold, and prints the race as a timeline', async () => {
    const seen = new Map<number, number>();
    let calls = 0;
    const leaky: Decider<TallyCommand, TallyEvent, number> = {
      ...tally,
      // Remembers the total across decisions, as a cache in a closure would: wrong once a
      // decision is re-made after a conflict or another server moved the stream on.
      decide(command, total) {
        const remembered = seen.get(calls % 2) ?? total;
        calls++;
        const events = tally.decide(command, remembered);
        seen.set(calls % 2, remembered + (command.type === 'add' ? command.amount : 0));
        return events;
      },
    };
    const violation = await firstViolation(raceProperty({ decider: leaky, commands }));
    expect(violation).toBeDefined();
    expect(violation!.violations.join('\n')).toMatch(/serial order|explains/);
    expect(violation!.timeline).toMatch(/caller#\d+ +sends cmd-\d+/);
    expect(violation!.timeline).toMatch(/server#\d+ +(read|append) tally-/);
  });

  it('catches a decider that decides from a clock', async () => {
    let tick = 0;
    const clocked: Decider<TallyCommand, TallyEvent, number> = {
      ...tally,
      decide: (command, total) =>
        tally.decide(command, total).map((e) => (e.type === 'Added' ? { ...e, data: { ...e.data, amount: e.data.amount + (tick++ % 3 === 2 ? 1 : 0) } } : e)),
    };
    const violation = await firstViolation(raceProperty({ decider: clocked, commands }));
    expect(violation?.violations.join('\n')).toMatch(/serial order the decider decides/);
  });

  it('catches a lost update: a store that ignores the expected version', async () => {
    const violation = await firstViolation(
      raceProperty({
        decider: tally,
        commands,
        store: () => {
          const store = new MemoryEventStore();
          return withAppend(store, (stream, events) => store.appendToStream(stream, events, { expectedVersion: 'any' }));
        },
      }),
    );
    expect(violation?.violations.join('\n')).toMatch(/lost update/);
  });

  it('catches a re-sent command applied twice: a store that keeps neither command ids nor event ids', async () => {
    let n = 0;
    const violation = await firstViolation(
      raceProperty({
        decider: tally,
        commands,
        store: () => {
          const store = new MemoryEventStore();
          const forgetful = withAppend(store, (stream, events, options) =>
            store.appendToStream(
              stream,
              events.map((e: NewEvent) => ({ ...e, id: crypto.randomUUID(), metadata: { ...e.metadata, commandId: undefined, sentAs: e.metadata?.commandId } })),
              options,
            ),
          );
          n++;
          return forgetful;
        },
      }),
    );
    expect(n).toBeGreaterThan(0);
    // Without command ids in the log, the kit cannot tie runs to callers: it reports the events
    // as sent by nobody, or the same command twice.
    expect(violation?.violations.join('\n')).toMatch(/no caller sent|applied twice/);
  });

  it('catches a non-linearizable answer: a store that acknowledges an append it dropped', async () => {
    const violation = await firstViolation(
      raceProperty({
        decider: tally,
        commands,
        store: () => {
          const store = new MemoryEventStore();
          return withAppend(store, async (stream, events, options) => {
            try {
              return await store.appendToStream(stream, events, options);
            } catch (error) {
              if (!(error instanceof WrongExpectedVersionError)) throw error;
              return { nextExpectedVersion: 0n, lastGlobalPosition: 0n, duplicate: false };
            }
          });
        },
      }),
    );
    expect(violation?.violations.join('\n')).toMatch(/none of its events are stored|the store holds/);
  });
});
