import { describe, expect, test } from 'vitest';
import { specification } from '@ordo/core/testing';
import {
  OverrideRefusedError,
  RotationError,
  SprintOutOfOrderError,
  rotationDecider,
  type RotationCommand,
  type RotationEvent,
} from './rotation.js';

const at = '2026-11-23T08:00:00.000Z';
const by = 'triage-bot@a';
const spec = specification(rotationDecider);

const joined = (person: string, ...disciplines: string[]): RotationEvent => ({ type: 'MemberJoined', data: { person, disciplines, by, at } });
const join = (person: string, ...disciplines: string[]): RotationCommand => ({ type: 'JoinRotation', person, disciplines, actor: by, at });
const startSprint = (sprint: number, actor = by): RotationCommand => ({ type: 'StartSprint', sprint, startsOn: '2026-11-23', actor, at });
const sprintStarted = (sprint: number, onCall: Record<string, string>): RotationEvent => ({
  type: 'SprintStarted',
  data: { sprint, startsOn: '2026-11-23', onCall, by, at },
});
const override = (replace: string, to: string, requestId = 'chat-1'): RotationCommand => ({
  type: 'RequestOverride',
  requestId,
  discipline: 'backend',
  replace,
  with: to,
  reason: 'out sick',
  actor: 'triage-bot@b',
  at,
});

const team = [joined('ana', 'backend', 'frontend'), joined('ben', 'backend'), joined('chen', 'frontend', 'mobile'), joined('dev', 'mobile')];

describe('joining the rotation', () => {
  test('a person joins for several disciplines at once', () => {
    spec.given([]).when(join('ana', 'backend', 'frontend')).then([joined('ana', 'backend', 'frontend')]);
  });

  test('joining again for the same disciplines decides nothing; a new discipline is added alone', () => {
    spec.given(team).when(join('ana', 'frontend', 'backend')).thenNothing();
    spec.given(team).when(join('ana', 'backend', 'mobile')).then([joined('ana', 'mobile')]);
  });
});

describe('starting a sprint', () => {
  test('puts one person on call per discipline, and nobody on call twice while someone else can serve', () => {
    spec.given(team).when(startSprint(42)).then([sprintStarted(42, { backend: 'ana', frontend: 'chen', mobile: 'dev' })]);
  });

  test('the next sprint moves every discipline on by one turn', () => {
    spec
      .given([...team, sprintStarted(42, { backend: 'ana', frontend: 'chen', mobile: 'dev' })])
      .when(startSprint(43))
      .then([sprintStarted(43, { backend: 'ben', frontend: 'ana', mobile: 'chen' })]);
  });

  test('someone in several disciplines covers two only when nobody else can', () => {
    spec
      .given([joined('ana', 'backend', 'frontend')])
      .when(startSprint(1))
      .then([sprintStarted(1, { backend: 'ana', frontend: 'ana' })]);
  });

  test('starting a sprint that has started decides nothing, whichever bot asks', () => {
    spec
      .given([...team, sprintStarted(42, { backend: 'ana', frontend: 'chen', mobile: 'dev' })])
      .when(startSprint(42, 'triage-bot@b'))
      .thenNothing();
  });

  test('a sprint out of turn is refused', () => {
    spec
      .given([...team, sprintStarted(42, { backend: 'ana', frontend: 'chen', mobile: 'dev' })])
      .when(startSprint(44))
      .thenThrows(SprintOutOfOrderError, (error) => expect([error.current, error.requested]).toEqual([42, 44]));
  });

  test('a sprint with nobody on the rotation is refused', () => {
    spec.given([]).when(startSprint(1)).thenThrows(RotationError);
  });
});

describe('overrides', () => {
  const sprint = [...team, sprintStarted(42, { backend: 'ana', frontend: 'chen', mobile: 'dev' })];

  test('an override swaps who is on call, with who asked and why', () => {
    spec
      .given(sprint)
      .when(override('ana', 'ben'))
      .then([
        {
          type: 'OverrideRecorded',
          data: { requestId: 'chat-1', sprint: 42, discipline: 'backend', from: 'ana', to: 'ben', reason: 'out sick', by: 'triage-bot@b', at },
        },
      ]);
  });

  test('the same request again decides nothing, even once the swap has made it look wrong', () => {
    const recorded: RotationEvent = {
      type: 'OverrideRecorded',
      data: { requestId: 'chat-1', sprint: 42, discipline: 'backend', from: 'ana', to: 'ben', reason: 'out sick', by, at },
    };
    spec.given([...sprint, recorded]).when(override('ana', 'ben')).thenNothing();
  });

  test('an override for someone not on call, or to someone outside the discipline, is refused', () => {
    spec.given(sprint).when(override('ben', 'ana')).thenThrows(OverrideRefusedError);
    spec.given(sprint).when(override('ana', 'dev')).thenThrows(OverrideRefusedError);
    spec.given(team).when(override('ana', 'ben')).thenThrows(OverrideRefusedError);
  });
});
