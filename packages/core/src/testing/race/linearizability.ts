import type { Decider } from '../../decider.js';
import type { EventOf, RecordedEvent } from '../../events.js';
import { shapes, type Call } from './answers.js';
import { commandRuns, logIntegrityViolations, type StoredRun } from './log-integrity.js';

/**
 * Checks one run against the pure decider. The stored log must be what *some* serial order of the
 * commands produces: per stream (streams are independent), the stored commands in stream order,
 * each deciding on the state its predecessors left, give exactly the stored events; every caller's
 * answer fits that order and the real-time order of the calls (a call that ended before another
 * began comes first).
 * @returns one message per violation; none means the run was linearizable.
 */
export function linearizabilityViolations<Command, Event extends EventOf, State>(
  decider: Decider<Command, Event, State>,
  log: readonly RecordedEvent[],
  calls: readonly Call<Command>[],
): string[] {
  const violations = logIntegrityViolations(log);
  const { byStream, violations: twice } = commandRuns(log);
  violations.push(...twice);
  const streams = new Set([...byStream.keys(), ...calls.map((c) => c.stream)]);
  for (const stream of streams) {
    const runs = byStream.get(stream) ?? [];
    const ofStream = calls.filter((c) => c.stream === stream);
    const states = replay(decider, runs, ofStream, violations);
    if (states) checkAnswers(decider, runs, states, ofStream, violations);
  }
  return violations;
}

/**
 * Replays the stored commands of one stream in stream order through the decider.
 * @returns the state before each run and after the last (`runs.length + 1` states), or undefined
 * when the stored events are not what the decider decides (reported in `violations`).
 */
function replay<Command, Event extends EventOf, State>(
  decider: Decider<Command, Event, State>,
  runs: readonly StoredRun[],
  calls: readonly Call<Command>[],
  violations: string[],
): State[] | undefined {
  const states: State[] = [decider.initialState];
  let state = decider.initialState;
  for (const run of runs) {
    const call = calls.find((c) => c.commandId === run.commandId);
    if (!call) {
      violations.push(`${run.stream} v${run.events[0]!.streamVersion}: events of command ${run.commandId}, which no caller sent to this stream`);
      return undefined;
    }
    let decided: readonly Event[];
    try {
      decided = decider.decide(call.command, state);
    } catch (error) {
      violations.push(`${run.stream}: command ${run.commandId} is stored, but in serial order the decider refuses it (${String(error)}): a lost update`);
      return undefined;
    }
    if (shapes(decided) !== shapes(run.events)) {
      violations.push(
        `${run.stream}: command ${run.commandId} stored ${shapes(run.events)}, but in serial order the decider decides ${shapes(decided)}: ` +
          'a lost update, or a decision made from something other than the folded state',
      );
      return undefined;
    }
    for (const event of run.events) state = decider.evolve(state, event as unknown as Event);
    states.push(state);
  }
  return states;
}

/** Checks each caller's answer against the serial order of one stream. */
function checkAnswers<Command, Event extends EventOf, State>(
  decider: Decider<Command, Event, State>,
  runs: readonly StoredRun[],
  states: readonly State[],
  calls: readonly Call<Command>[],
  violations: string[],
): void {
  const indexOf = new Map(runs.map((run, i) => [run.commandId, i]));
  for (const call of calls) {
    const at = indexOf.get(call.commandId);
    const { answer } = call;
    if (answer.kind === 'events') {
      if (at === undefined) violations.push(`${call.caller} was told ${call.commandId} was applied, but none of its events are stored`);
      else if (shapes(answer.events) !== shapes(runs[at]!.events)) {
        violations.push(`${call.caller} was told ${call.commandId} produced ${shapes(answer.events)}, but the store holds ${shapes(runs[at]!.events)}`);
      } else if (!fitsRealTime(at, call, runs, calls, indexOf)) {
        violations.push(`${call.caller}: ${call.commandId} is stored in an order that contradicts when the calls ran`);
      }
      continue;
    }
    if (answer.kind === 'gave-up') {
      const applied = at !== undefined && calls.some((c) => c.commandId === call.commandId && c.answer.kind === 'events');
      if (at !== undefined && !applied) violations.push(`${call.caller} was told ${call.commandId} failed (${answer.error}), but its events are stored`);
      continue;
    }
    if (!placeable(decider, call, states, window(call, runs, calls, indexOf))) {
      const said = answer.kind === 'noop' ? 'already satisfied (no events)' : `refused (${answer.error})`;
      violations.push(`${call.caller} was told ${call.commandId} was ${said}, which no state of ${call.stream} in the call's lifetime explains`);
    }
  }
}

/** The run indexes `[lo, hi]` at which a call without effect may have taken place. */
function window<Command>(call: Call<Command>, runs: readonly StoredRun[], calls: readonly Call<Command>[], indexOf: Map<string, number>) {
  let lo = 0;
  let hi = runs.length;
  for (const other of calls) {
    const at = indexOf.get(other.commandId);
    if (at === undefined || other.answer.kind !== 'events') continue;
    // A run acknowledged before this call began happened before it.
    if (other.respondedAt < call.invokedAt) lo = Math.max(lo, at + 1);
  }
  runs.forEach((run, i) => {
    const senders = calls.filter((c) => c.commandId === run.commandId);
    // A run whose every sender began after this call ended happened after it.
    if (senders.length > 0 && senders.every((c) => c.invokedAt > call.respondedAt)) hi = Math.min(hi, i);
  });
  return { lo, hi };
}

/** Whether the decider, at some state in the window, answers as the caller was told. */
function placeable<Command, Event extends EventOf, State>(
  decider: Decider<Command, Event, State>,
  call: Call<Command>,
  states: readonly State[],
  { lo, hi }: { lo: number; hi: number },
): boolean {
  for (let k = lo; k <= hi; k++) {
    try {
      const decided = decider.decide(call.command, states[k]!);
      if (call.answer.kind === 'noop' && decided.length === 0) return true;
    } catch (error) {
      if (call.answer.kind === 'refused' && error instanceof Error && error.name === call.answer.error) return true;
    }
  }
  return false;
}

/** Whether run `at` may sit where it is, given the calls that finished before its senders began. */
function fitsRealTime<Command>(
  at: number,
  call: Call<Command>,
  runs: readonly StoredRun[],
  calls: readonly Call<Command>[],
  indexOf: Map<string, number>,
): boolean {
  const senders = calls.filter((c) => c.commandId === call.commandId);
  const firstInvoked = Math.min(...senders.map((c) => c.invokedAt));
  // Every run acknowledged before any sender of this one began must be stored before it.
  return calls.every((other) => {
    const otherAt = indexOf.get(other.commandId);
    if (otherAt === undefined || other.answer.kind !== 'events' || other.respondedAt >= firstInvoked) return true;
    return otherAt < at || runs[otherAt]!.commandId === call.commandId;
  });
}
