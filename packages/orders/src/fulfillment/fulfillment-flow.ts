import type { FulfillmentFacts } from './fulfillment-events.js';

/**
 * What fulfillment does next for one order, as a pure function of what the streams say, the time
 * and the policy. The process manager (fulfillment.ts) performs the action it names.
 */

/** The order as fulfillment sees it. */
export interface FlowState {
  status: string;
  /** The submission attempt the order is in (`submissionAttempts`). */
  attempt: number;
  /** When the order entered `submitting` for that attempt (ISO time). */
  since: string | undefined;
  facts: FulfillmentFacts;
  /** A provider call for this attempt is in progress in this process. */
  callInProgress: boolean;
}

/** Timeout and attempt limit. */
export interface FlowPolicy {
  submissionTimeoutMs: number;
  maxAttempts: number;
}

/** The one thing to do next. */
export type FlowAction =
  | { kind: 'none' }
  | { kind: 'submit'; attempt: number }
  /** A call was made (by a process that stopped) and its answer never recorded: ask again now, same key. */
  | { kind: 'resume'; attempt: number }
  | { kind: 'wait'; until: Date }
  | { kind: 'retry'; attempt: number; reason: string; retryReason: string }
  | { kind: 'give-up'; attempt: number; reason: string };

/**
 * The next action for an order (pure). Only an order in `submitting` needs one: once the timeout
 * has passed it is retried (or, after `maxAttempts`, given up on) with a reason quoting the
 * provider's refusal when there was one; before that, a submission nobody called is called, one
 * called by a process that is gone is resumed, and anything else waits for the timeout.
 */
export function nextAction(state: FlowState, now: Date, policy: FlowPolicy): FlowAction {
  if (state.status !== 'submitting') return { kind: 'none' };
  const { attempt } = state;
  const since = state.since === undefined ? now.getTime() : Date.parse(state.since);
  const due = since + policy.submissionTimeoutMs;
  if (now.getTime() >= due) {
    const refusal = state.facts.refusals[attempt];
    const why =
      refusal !== undefined
        ? `the provider refused submission ${attempt}: ${refusal}`
        : `no answer from the provider within ${Math.round(policy.submissionTimeoutMs / 1000)} s (submission ${attempt})`;
    if (attempt >= policy.maxAttempts) return { kind: 'give-up', attempt, reason: `${why}; giving up after ${attempt} submissions` };
    return { kind: 'retry', attempt, reason: why, retryReason: `retry ${attempt + 1} of ${policy.maxAttempts}` };
  }
  const calls = state.facts.calls[attempt] ?? 0;
  if (calls === 0) return { kind: 'submit', attempt };
  if (state.facts.refusals[attempt] === undefined && !state.callInProgress) return { kind: 'resume', attempt };
  return { kind: 'wait', until: new Date(due) };
}
