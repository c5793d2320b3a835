import { z } from 'zod';
import { type Decider, parseOrThrow } from '@ordo/core';

/**
 * The facts of an order's fulfillment that are not status changes, in a stream of their own
 * (`fulfillment-<orderId>`): each provider call the process manager made, each refusal with the
 * provider's reason, and each provider update that came too late or twice and was ignored.
 * Status changes stay on the order, made through the order service.
 */

/** The stream of an order's fulfillment facts. */
export function fulfillmentStream(orderId: string): string {
  return `fulfillment-${orderId}`;
}

/** Event types of a fulfillment stream. */
export const FulfillmentEvents = {
  /** The process manager called the provider for submission `attempt` (`resumed`: again, after a restart). */
  Called: 'FulfillmentProviderCalled',
  /** The provider refused submission `attempt`, saying `reason`. */
  Refused: 'FulfillmentProviderRefused',
  /** A provider update that changed nothing (late, or a repeat) was recorded and ignored. */
  UpdateIgnored: 'FulfillmentUpdateIgnored',
} as const;

const attempt = z.number().int().min(1);
const calledSchema = z.object({ attempt, at: z.string(), resumed: z.boolean().optional() });
const refusedSchema = z.object({ attempt, reason: z.string(), at: z.string() });
const updateIgnoredSchema = z.object({
  update: z.enum(['processing', 'completed', 'failed']),
  reason: z.string().optional(),
  /** The order's status when the update came. */
  status: z.string(),
  why: z.string(),
  at: z.string(),
});

/** An event of a fulfillment stream. */
export type FulfillmentEvent =
  | { type: typeof FulfillmentEvents.Called; data: z.infer<typeof calledSchema> }
  | { type: typeof FulfillmentEvents.Refused; data: z.infer<typeof refusedSchema> }
  | { type: typeof FulfillmentEvents.UpdateIgnored; data: z.infer<typeof updateIgnoredSchema> };

const schemas: Record<FulfillmentEvent['type'], z.ZodType> = {
  [FulfillmentEvents.Called]: calledSchema,
  [FulfillmentEvents.Refused]: refusedSchema,
  [FulfillmentEvents.UpdateIgnored]: updateIgnoredSchema,
};

/** What a fulfillment stream says. */
export interface FulfillmentFacts {
  /** Provider calls by submission attempt (more than one: resumed after a restart). */
  calls: Record<number, number>;
  /** The latest refusal of each submission attempt. */
  refusals: Record<number, string>;
  /** Provider updates ignored so far. */
  ignoredUpdates: number;
}

/** Commands that record fulfillment facts; time comes in on the command. */
export type FulfillmentFactCommand =
  | { type: 'RecordCall'; attempt: number; resumed: boolean; at: string }
  | { type: 'RecordRefusal'; attempt: number; reason: string; at: string }
  | { type: 'RecordIgnoredUpdate'; data: z.infer<typeof updateIgnoredSchema> };

/** Records facts as they are (a repeated command is absorbed by its command id). Pure. */
export const fulfillmentFactsDecider: Decider<FulfillmentFactCommand, FulfillmentEvent, FulfillmentFacts> = {
  initialState: { calls: {}, refusals: {}, ignoredUpdates: 0 },
  evolve(state, event) {
    const schema = schemas[event.type];
    if (!schema) return state;
    const decoded = { type: event.type, data: parseOrThrow(schema, event.data, `${event.type} event data`) } as FulfillmentEvent;
    switch (decoded.type) {
      case FulfillmentEvents.Called:
        return { ...state, calls: { ...state.calls, [decoded.data.attempt]: (state.calls[decoded.data.attempt] ?? 0) + 1 } };
      case FulfillmentEvents.Refused:
        return { ...state, refusals: { ...state.refusals, [decoded.data.attempt]: decoded.data.reason } };
      case FulfillmentEvents.UpdateIgnored:
        return { ...state, ignoredUpdates: state.ignoredUpdates + 1 };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RecordCall':
        return [{ type: FulfillmentEvents.Called, data: { attempt: command.attempt, at: command.at, ...(command.resumed && { resumed: true }) } }];
      case 'RecordRefusal':
        return [{ type: FulfillmentEvents.Refused, data: { attempt: command.attempt, reason: command.reason, at: command.at } }];
      case 'RecordIgnoredUpdate':
        return [{ type: FulfillmentEvents.UpdateIgnored, data: command.data }];
    }
  },
};
