/**
 * A team's triage rotation, written as an Ordo `Decider`: nothing here knows about orders. People
 * join the rotation for one or more disciplines (backend, frontend, mobile); each sprint puts one
 * person on call per discipline, taking turns; an override swaps who is on call, once per request.
 *
 * Like every decider, it is pure: who asks, when, and the ids of outside requests arrive on the
 * command. Commands that are already satisfied decide no events: starting a sprint that has
 * started, recording an override request that is recorded, joining for disciplines one serves in.
 */
import type { Decider } from '@ordo/core';

/** Who asks and when. */
interface Asked {
  actor: string;
  at: string;
}

export type RotationCommand =
  | ({ type: 'JoinRotation'; person: string; disciplines: string[] } & Asked)
  | ({ type: 'StartSprint'; sprint: number; startsOn: string } & Asked)
  /** `requestId` identifies the request where it was made (a chat message, a ticket). */
  | ({ type: 'RequestOverride'; requestId: string; discipline: string; replace: string; with: string; reason: string } & Asked);

export type RotationEvent =
  | { type: 'MemberJoined'; data: { person: string; disciplines: string[]; by: string; at: string } }
  | { type: 'SprintStarted'; data: { sprint: number; startsOn: string; onCall: Record<string, string>; by: string; at: string } }
  | {
      type: 'OverrideRecorded';
      data: { requestId: string; sprint: number; discipline: string; from: string; to: string; reason: string; by: string; at: string };
    };

export interface Rotation {
  /** Per discipline, the people who serve in it, in the order they take turns. */
  rosters: Record<string, string[]>;
  /** Per discipline, the index in its roster of whose turn is next. */
  next: Record<string, number>;
  sprint: { number: number; startsOn: string; onCall: Record<string, string> } | null;
  /** Override requests already recorded. */
  overrides: string[];
}

/** A command the rotation refuses. */
export class RotationError extends Error {
  override name = 'RotationError';
}

/** A sprint was started out of turn (not the current one, not the next one). */
export class SprintOutOfOrderError extends RotationError {
  override name = 'SprintOutOfOrderError';
  constructor(
    readonly current: number,
    readonly requested: number,
  ) {
    super(`Sprint ${current} is the current sprint; sprint ${requested} cannot start now (only sprint ${current + 1} can)`);
  }
}

/** An override that does not fit the current sprint. */
export class OverrideRefusedError extends RotationError {
  override name = 'OverrideRefusedError';
}

/** The stream that holds a team's rotation. */
export const rotationStream = (team: string) => `rotation-${team}`;

/**
 * Who is on call for a sprint: for each discipline, the next person in its roster who is not
 * already on call for another discipline this sprint; if everyone in the roster is, the next
 * person anyway (someone who serves in several disciplines then covers two).
 */
export function assignOnCall(rotation: Rotation): Record<string, string> {
  const onCall: Record<string, string> = {};
  const busy = new Set<string>();
  for (const [discipline, roster] of Object.entries(rotation.rosters)) {
    const start = rotation.next[discipline] ?? 0;
    const turns = roster.map((_, i) => roster[(start + i) % roster.length]!);
    const person = turns.find((p) => !busy.has(p)) ?? turns[0]!;
    onCall[discipline] = person;
    busy.add(person);
  }
  return onCall;
}

function decide(command: RotationCommand, state: Rotation): RotationEvent[] {
  const { actor: by, at } = command;
  switch (command.type) {
    case 'JoinRotation': {
      const added = command.disciplines.filter((d) => !state.rosters[d]?.includes(command.person));
      if (added.length === 0) return [];
      return [{ type: 'MemberJoined', data: { person: command.person, disciplines: added, by, at } }];
    }
    case 'StartSprint': {
      const current = state.sprint?.number;
      if (current === command.sprint) return []; // someone started it already
      if (current !== undefined && command.sprint !== current + 1) throw new SprintOutOfOrderError(current, command.sprint);
      if (Object.keys(state.rosters).length === 0) throw new RotationError('Nobody is on the rotation yet');
      const onCall = assignOnCall(state);
      return [{ type: 'SprintStarted', data: { sprint: command.sprint, startsOn: command.startsOn, onCall, by, at } }];
    }
    case 'RequestOverride': {
      if (state.overrides.includes(command.requestId)) return []; // this request is recorded already
      const sprint = state.sprint;
      if (!sprint) throw new OverrideRefusedError('No sprint has started');
      const onCall = sprint.onCall[command.discipline];
      if (onCall !== command.replace) {
        throw new OverrideRefusedError(`${command.replace} is not on call for ${command.discipline} in sprint ${sprint.number} (${onCall ?? 'nobody'} is)`);
      }
      if (!state.rosters[command.discipline]?.includes(command.with)) {
        throw new OverrideRefusedError(`${command.with} does not serve in ${command.discipline}`);
      }
      const { requestId, discipline, reason } = command;
      return [
        {
          type: 'OverrideRecorded',
          data: { requestId, sprint: sprint.number, discipline, from: command.replace, to: command.with, reason, by, at },
        },
      ];
    }
  }
}

function evolve(state: Rotation, event: RotationEvent): Rotation {
  switch (event.type) {
    case 'MemberJoined': {
      const rosters = { ...state.rosters };
      for (const d of event.data.disciplines) rosters[d] = [...(rosters[d] ?? []), event.data.person];
      return { ...state, rosters };
    }
    case 'SprintStarted': {
      // The turn moves past whoever served, as recorded.
      const next = { ...state.next };
      for (const [d, person] of Object.entries(event.data.onCall)) {
        const roster = state.rosters[d] ?? [];
        next[d] = (roster.indexOf(person) + 1) % Math.max(1, roster.length);
      }
      const { sprint, startsOn, onCall } = event.data;
      return { ...state, next, sprint: { number: sprint, startsOn, onCall } };
    }
    case 'OverrideRecorded': {
      const { discipline, to, requestId } = event.data;
      const sprint = state.sprint && { ...state.sprint, onCall: { ...state.sprint.onCall, [discipline]: to } };
      return { ...state, sprint, overrides: [...state.overrides, requestId] };
    }
  }
}

export const rotationDecider: Decider<RotationCommand, RotationEvent, Rotation> = {
  initialState: { rosters: {}, next: {}, sprint: null, overrides: [] },
  decide,
  evolve,
};
