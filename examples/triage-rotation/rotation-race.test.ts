/**
 * The rotation under concurrency, with the kit from `@ordo/core/testing`: three triage bots (each
 * its own command handler, as separate processes would be) send joins, sprint starts and override
 * requests — some re-sent after a lost response — to two teams' rotations at once.
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { raceCommands, raceProperty } from '@ordo/core/testing/race';
import { rotationDecider, rotationStream, type Rotation, type RotationCommand } from './rotation.js';

const at = '2026-11-23T08:00:00.000Z';
const people = ['ana', 'ben', 'chen'];

const command: fc.Arbitrary<RotationCommand> = fc.oneof(
  fc.record({
    type: fc.constant('JoinRotation' as const),
    person: fc.constantFrom(...people),
    disciplines: fc.subarray(['backend', 'frontend'], { minLength: 1 }),
    actor: fc.constantFrom('bot-a', 'bot-b'),
    at: fc.constant(at),
  }),
  fc.record({
    type: fc.constant('StartSprint' as const),
    sprint: fc.integer({ min: 1, max: 3 }),
    startsOn: fc.constant('2026-11-23'),
    actor: fc.constantFrom('bot-a', 'bot-b'),
    at: fc.constant(at),
  }),
  fc.record({
    type: fc.constant('RequestOverride' as const),
    requestId: fc.constantFrom('chat-1', 'chat-2'),
    discipline: fc.constant('backend'),
    replace: fc.constantFrom(...people),
    with: fc.constantFrom(...people),
    reason: fc.constant('out sick'),
    actor: fc.constantFrom('bot-a', 'bot-b'),
    at: fc.constant(at),
  }),
);

/** What must hold in every state a rotation passes through. */
function rotationInvariant(states: ReadonlyMap<string, Rotation>): true | string {
  for (const [stream, rotation] of states) {
    if (new Set(rotation.overrides).size !== rotation.overrides.length) return `${stream}: two overrides for one request`;
    for (const [discipline, person] of Object.entries(rotation.sprint?.onCall ?? {})) {
      if (!rotation.rosters[discipline]?.includes(person)) return `${stream}: ${person} is on call for ${discipline} without serving in it`;
    }
  }
  return true;
}

test('racing bots: every run is linearizable, each request is recorded once, nobody is on call outside their discipline', async () => {
  const property = raceProperty({
    decider: rotationDecider,
    commands: raceCommands({ streams: [rotationStream('payments'), rotationStream('search')], command, maxCommands: 8 }),
    invariant: rotationInvariant,
  });
  const details = await fc.check(property, { numRuns: 300 });
  expect(details.failed ? String(details.errorInstance) : 'held').toBe('held');
});
