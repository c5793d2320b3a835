import { z } from 'zod';
import { isoTimestamp, orderNumberPrefixSchema, recordedValues } from './values.js';

/**
 * The events of an order stream, with the zod schema of each one's data. Types are inferred from
 * the schemas, so a field is declared once. Recorded events are read tolerantly: a field this
 * version does not know is dropped, not refused.
 */

const actor = z.string().min(1).max(200);
const reason = z.string().min(1).max(2000);
const uuid = z.uuid();

/** An order was placed; its total is the sum of its lines. */
export const orderPlacedSchema = z.object({
  orderId: uuid,
  idempotencyKey: z.string(),
  customer: recordedValues.customer,
  lines: z.array(recordedValues.line),
  total: recordedValues.money,
  prefix: orderNumberPrefixSchema.optional(),
  placedAt: isoTimestamp,
  placedBy: actor,
});

/** An order moved from one status to another, by whom and why. */
export const orderStatusChangedSchema = z.object({
  orderId: uuid,
  from: z.string(),
  to: z.string(),
  reason: reason.optional(),
  by: actor,
  at: isoTimestamp,
  /** Set when entering `submitting`: which submission attempt this is (1, 2, ...). */
  attempt: z.number().int().positive().optional(),
  /** Set when entering `submitted`: the fulfillment provider's request id. */
  providerRequestId: z.string().min(1).max(200).optional(),
});

/** A payment was recorded against an order. */
export const paymentRecordedSchema = z.object({
  orderId: uuid,
  paymentId: z.string().min(1).max(200),
  amount: recordedValues.money,
  by: actor,
  at: isoTimestamp,
});

/** The order-numbers projection gave the order its number. */
export const orderNumberAssignedSchema = z.object({
  orderId: uuid,
  number: z.string(),
  prefix: z.string(),
  /** The order's day in the numbering time zone, `YYYYMMDD`. */
  day: z.string().regex(/^\d{8}$/),
});

/** Every order event's data schema, by event type. */
export const orderEventSchemas = {
  OrderPlaced: orderPlacedSchema,
  OrderStatusChanged: orderStatusChangedSchema,
  PaymentRecorded: paymentRecordedSchema,
  OrderNumberAssigned: orderNumberAssignedSchema,
} as const;

/** Data of `OrderPlaced`: the order as placed, with its total. */
export type OrderPlaced = z.infer<typeof orderPlacedSchema>;
/** Data of `OrderStatusChanged`: from which status to which, by whom and why. */
export type OrderStatusChanged = z.infer<typeof orderStatusChangedSchema>;
/** Data of `PaymentRecorded`: one payment, identified by the provider's payment id. */
export type PaymentRecorded = z.infer<typeof paymentRecordedSchema>;
/** Data of `OrderNumberAssigned`: the order's human-readable number. */
export type OrderNumberAssigned = z.infer<typeof orderNumberAssignedSchema>;

/** The events of an order stream. */
export type OrderEvent =
  | { type: 'OrderPlaced'; data: OrderPlaced }
  | { type: 'OrderStatusChanged'; data: OrderStatusChanged }
  | { type: 'PaymentRecorded'; data: PaymentRecorded }
  | { type: 'OrderNumberAssigned'; data: OrderNumberAssigned };

/** The type names of the order stream's events. */
export type OrderEventType = OrderEvent['type'];
