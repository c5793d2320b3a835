import type { Decider } from '@ordo/core';
import {
  decodeNotificationEvent,
  evolveNotification,
  initialNotificationState,
  type NotificationEvent,
  type NotificationState,
} from './notification-events.js';
import { NotificationEvents } from './notifications.js';

/**
 * Delivery of one notification as pure decisions: what is next for a notification at a time
 * (`nextDeliveryAction`), and which events a dispatcher's command records (`notificationDeliveryDecider`).
 * The dispatcher (notification-dispatcher.ts) performs the one effect, the send, and records its
 * outcome through the command handler.
 */

/** The delivery rules a decision needs. */
export interface DeliveryPolicy {
  /** Attempts before a notification is dead-lettered. */
  maxAttempts: number;
}

/** What a notification needs next, at a given time. */
export type DeliveryAction =
  | { kind: 'settled' }
  | { kind: 'wait'; until: Date; why: 'lease' | 'retry' }
  | { kind: 'attempt'; attempt: number }
  | { kind: 'dead-letter'; attempts: number; lastError: string };

/**
 * The next step for a notification (pure). A claim whose lease has not run out, or a retry not yet
 * due, is waited for; a claim whose lease ran out (its dispatcher died mid-send) counts as a failed
 * attempt; after `maxAttempts` the notification is dead-lettered.
 */
export function nextDeliveryAction(state: NotificationState, now: Date, policy: DeliveryPolicy): DeliveryAction {
  if (!state.request || state.settled) return { kind: 'settled' };
  const at = now.getTime();
  if (state.claim && Date.parse(state.claim.leaseUntil) > at) return { kind: 'wait', until: new Date(state.claim.leaseUntil), why: 'lease' };
  if (!state.claim && state.retryAt && Date.parse(state.retryAt) > at) return { kind: 'wait', until: new Date(state.retryAt), why: 'retry' };
  if (state.attempts >= policy.maxAttempts) {
    const lastError = state.claim ? `attempt ${state.attempts} was never reported` : (state.lastError ?? 'no attempt succeeded');
    return { kind: 'dead-letter', attempts: state.attempts, lastError };
  }
  return { kind: 'attempt', attempt: state.attempts + 1 };
}

/** What a dispatcher asks to record. Time and the dispatcher's identity come in on the command. */
export type DeliveryCommand =
  | { type: 'ClaimAttempt'; attempt: number; dispatcher: string; leaseUntil: string; at: string }
  | { type: 'RecordSent'; attempt: number; dispatcher: string }
  | { type: 'RecordFailure'; attempt: number; dispatcher: string; error: string; retryAt: string }
  /** By the holder of the last claim (`dispatcher`), or, at time `at`, after the last claim's lease ran out. */
  | { type: 'DeadLetter'; attempts: number; lastError: string; dispatcher: string } | { type: 'DeadLetter'; attempts: number; lastError: string; at: string };

/**
 * The delivery decider. A claim is granted only for the attempt `nextDeliveryAction` names at the
 * command's time; an outcome is recorded only by the dispatcher holding the latest claim (after a
 * takeover the old holder's report changes nothing); a dead letter only once. Anything else is a
 * no-op, so a repeated or late command writes nothing.
 */
export const notificationDeliveryDecider: Decider<DeliveryCommand, NotificationEvent, NotificationState> = {
  initialState: initialNotificationState,
  evolve(state, event) {
    const decoded = decodeNotificationEvent(event);
    return decoded ? evolveNotification(state, decoded) : state;
  },
  decide(command, state) {
    if (!state.request || state.settled) return [];
    switch (command.type) {
      case 'ClaimAttempt': {
        const action = nextDeliveryAction(state, new Date(command.at), { maxAttempts: Number.POSITIVE_INFINITY });
        if (action.kind !== 'attempt' || action.attempt !== command.attempt) return [];
        const { attempt, leaseUntil, dispatcher } = command;
        return [{ type: NotificationEvents.Attempted, data: { attempt, leaseUntil, dispatcher } }];
      }
      case 'RecordSent':
        if (!holdsClaim(state, command)) return [];
        return [{ type: NotificationEvents.Sent, data: { attempt: command.attempt } }];
      case 'RecordFailure': {
        if (!holdsClaim(state, command)) return [];
        const { attempt, error, retryAt } = command;
        return [{ type: NotificationEvents.Failed, data: { attempt, error, retryAt } }];
      }
      case 'DeadLetter': {
        const allowed =
          'dispatcher' in command
            ? holdsClaim(state, { attempt: command.attempts, dispatcher: command.dispatcher })
            : state.attempts === command.attempts && (!state.claim || Date.parse(state.claim.leaseUntil) <= Date.parse(command.at));
        if (!allowed) return [];
        return [{ type: NotificationEvents.DeadLettered, data: { attempts: command.attempts, lastError: command.lastError } }];
      }
    }
  },
};

function holdsClaim(state: NotificationState, command: { attempt: number; dispatcher: string }): boolean {
  return state.claim?.attempt === command.attempt && state.claim.dispatcher === command.dispatcher;
}

/** The longest error text recorded; longer ones are cut with a note saying how long they were. */
export const MAX_ERROR_LENGTH = 2000;

/**
 * A description of anything a sender threw, that never throws itself: an `Error`'s message, a
 * string, JSON of a plain value, or a note when even that fails (a `toString` that throws). Cut to
 * `MAX_ERROR_LENGTH` with a note, so the failure can always be recorded.
 */
export function describeFailure(error: unknown): string {
  let text: string;
  try {
    if (error instanceof Error) text = String(error.message) || String(error.name);
    else if (typeof error === 'string') text = error;
    else if (error !== null && typeof error === 'object') text = JSON.stringify(error) ?? String(error);
    else text = String(error);
  } catch {
    text = `the sender threw a ${error === null ? 'null' : typeof error} that cannot be described (its toString or message throws)`;
  }
  if (text.length <= MAX_ERROR_LENGTH) return text;
  return `${text.slice(0, MAX_ERROR_LENGTH)}… [truncated: ${text.length} characters in all]`;
}

/** When the attempt after failed attempt `attempt` is due: full jitter on a capped exponential backoff. */
export function retryTime(now: Date, attempt: number, backoff: { baseDelayMs: number; maxDelayMs: number }, random: () => number): Date {
  const delay = random() * Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return new Date(now.getTime() + delay);
}
