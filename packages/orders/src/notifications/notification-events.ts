import { z } from 'zod';
import { parseOrThrow } from '@ordo/core';
import { NotificationEvents, type NotificationRequest } from './notifications.js';

/**
 * The events of a notification's own stream (`notification-<dedupeKey>`), their zod schemas, and
 * the one fold every reader uses: the delivery decider, the dispatcher and the read models.
 */

/** Attempt numbers start at 1; 0 is read too, as the read models always have. */
const attempt = z.number().int().min(0).max(2 ** 31 - 1);
const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 time');

/** `NotificationRequested`: what to send, to whom, and why. */
export const notificationRequestedSchema = z.object({
  dedupeKey: z.string().min(1),
  orderId: z.string().min(1),
  channel: z.enum(['email', 'sms']),
  template: z.string().min(1),
  recipient: z.string().min(1),
  status: z.string().min(1),
  causedBy: z.object({ eventId: z.string(), stream: z.string(), version: z.string() }),
});

/** `NotificationAttempted`: a dispatcher claimed attempt `attempt`; others keep off until `leaseUntil`. */
export const notificationAttemptedSchema = z.object({ attempt, leaseUntil: isoTime, dispatcher: z.string().optional() });
/** `NotificationSent`: attempt `attempt` was accepted by the provider. */
export const notificationSentSchema = z.object({ attempt });
/** `NotificationFailed`: attempt `attempt` failed with `error`; the next one is due at `retryAt`. */
export const notificationFailedSchema = z.object({ attempt, error: z.string(), retryAt: isoTime });
/** `NotificationDeadLettered`: given up after `attempts`, with the last error. */
export const notificationDeadLetteredSchema = z.object({ attempts: z.number().int().min(0), lastError: z.string() });

/** An event of a notification stream, as the decider produces and the fold reads it. */
export type NotificationEvent =
  | { type: typeof NotificationEvents.Requested; data: NotificationRequest }
  | { type: typeof NotificationEvents.Attempted; data: z.infer<typeof notificationAttemptedSchema> }
  | { type: typeof NotificationEvents.Sent; data: z.infer<typeof notificationSentSchema> }
  | { type: typeof NotificationEvents.Failed; data: z.infer<typeof notificationFailedSchema> }
  | { type: typeof NotificationEvents.DeadLettered; data: z.infer<typeof notificationDeadLetteredSchema> };

const schemas: Record<NotificationEvent['type'], z.ZodType> = {
  [NotificationEvents.Requested]: notificationRequestedSchema,
  [NotificationEvents.Attempted]: notificationAttemptedSchema,
  [NotificationEvents.Sent]: notificationSentSchema,
  [NotificationEvents.Failed]: notificationFailedSchema,
  [NotificationEvents.DeadLettered]: notificationDeadLetteredSchema,
};

/**
 * Decodes a stored event of a notification stream, or returns `undefined` for a type this version
 * does not know (a newer writer's event is skipped, not fatal).
 * @throws ValidationError naming the field when a known event's data does not fit its schema.
 */
export function decodeNotificationEvent(event: { type: string; data: unknown }): NotificationEvent | undefined {
  const schema = schemas[event.type as NotificationEvent['type']];
  if (!schema) return undefined;
  return { type: event.type, data: parseOrThrow(schema, event.data, `${event.type} event data`) } as NotificationEvent;
}

/** A notification's delivery state, folded from its stream. */
export interface NotificationState {
  request?: NotificationRequest;
  /** Version of the last event folded (`null`: no stream). */
  version: bigint | null;
  /** The highest attempt claimed so far. */
  attempts: number;
  settled: 'sent' | 'dead-lettered' | undefined;
  /** An attempt claimed and not yet reported. */
  claim?: { attempt: number; leaseUntil: string; dispatcher?: string };
  /** When the next attempt is due, after a failure. */
  retryAt?: string;
  lastError?: string;
}

/** The state of a notification stream that has no events. */
export const initialNotificationState: NotificationState = { version: null, attempts: 0, settled: undefined };

/** Applies one event (pure; returns a new state). Unknown types leave the state as it was. */
export function evolveNotification(state: NotificationState, event: NotificationEvent): NotificationState {
  const next: NotificationState = { ...state };
  switch (event.type) {
    case NotificationEvents.Requested:
      next.request = event.data;
      break;
    case NotificationEvents.Attempted:
      next.attempts = Math.max(next.attempts, event.data.attempt);
      next.claim = { ...event.data };
      delete next.retryAt;
      break;
    case NotificationEvents.Sent:
      next.settled = 'sent';
      delete next.claim;
      delete next.retryAt;
      break;
    case NotificationEvents.Failed:
      next.retryAt = event.data.retryAt;
      next.lastError = event.data.error;
      delete next.claim;
      break;
    case NotificationEvents.DeadLettered:
      next.settled = 'dead-lettered';
      next.lastError = event.data.lastError;
      delete next.claim;
      delete next.retryAt;
      break;
  }
  return next;
}

/** Folds a notification stream (pure): decodes each event with its schema and applies it. */
export function foldNotification(
  events: readonly { type: string; data: unknown; streamVersion?: bigint }[],
  state: NotificationState = initialNotificationState,
): NotificationState {
  let current = state;
  for (const event of events) {
    const decoded = decodeNotificationEvent(event);
    if (decoded) current = evolveNotification(current, decoded);
    if (event.streamVersion !== undefined) current = { ...current, version: event.streamVersion };
  }
  return current;
}
