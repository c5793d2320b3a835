import { z } from 'zod';
import {
  currencySchema,
  customerSchema,
  isoTimestamp,
  moneySchema,
  orderLineSchema,
  orderNumberPrefixSchema,
  type OrderLine,
} from './values.js';

/**
 * What may be asked of an order, as strict zod schemas: a key a command does not know (a typo such
 * as `prefx`, or `__proto__`) is refused with a `ValidationError` naming it, never dropped.
 */

const actor = z.string().min(1).max(200);
const reason = z.string().min(1).max(2000);
const uuid = z.uuid();
const lines = z.array(orderLineSchema).min(1, 'an order needs at least one line').max(1000);

/**
 * Lines must be in the order's currency, and every amount must stay exact: a line's quantity ×
 * unit price and the order's total are refused above `Number.MAX_SAFE_INTEGER` minor units, where
 * a JavaScript number would silently round.
 */
function checkLines(order: { lines: OrderLine[]; currency: string }, ctx: z.RefinementCtx): void {
  let total = 0;
  order.lines.forEach((line, i) => {
    if (line.unitPrice.currency !== order.currency) {
      ctx.addIssue({ code: 'custom', path: ['lines', i, 'unitPrice', 'currency'], message: `must match the order currency ${order.currency}` });
    }
    const amount = line.quantity * line.unitPrice.amount;
    if (!Number.isSafeInteger(amount)) {
      ctx.addIssue({ code: 'custom', path: ['lines', i], message: 'quantity × unit price exceeds Number.MAX_SAFE_INTEGER minor units' });
    }
    total += amount;
  });
  if (!Number.isSafeInteger(total)) {
    ctx.addIssue({ code: 'custom', path: ['lines'], message: 'the order total exceeds Number.MAX_SAFE_INTEGER minor units' });
  }
}

const orderContents = {
  /** Makes placing idempotent: a payment reference, a cart id. The order id derives from it. */
  idempotencyKey: z.string().min(1).max(200),
  customer: customerSchema,
  lines,
  currency: currencySchema,
  /** Order number prefix for this order (a brand or channel); the numbering projection has a default. */
  prefix: orderNumberPrefixSchema.optional(),
};

/** What a caller gives to place an order. */
export const placeOrderInputSchema = z.strictObject(orderContents).superRefine(checkLines);
/** What `placeOrder` takes, before defaults are applied. */
export type PlaceOrderInput = z.input<typeof placeOrderInputSchema>;

/** Every command names its order, who asks and when: the decider reads no clock. */
const who = { orderId: uuid, actor, at: isoTimestamp };

/** Place an order (idempotent by its key and contents). */
export const placeOrderSchema = z.strictObject({ type: z.literal('PlaceOrder'), ...orderContents, ...who }).superRefine(checkLines);
/** Move an order to any status the lifecycle allows. */
export const changeStatusSchema = z.strictObject({ type: z.literal('ChangeStatus'), to: z.string().min(1), reason: reason.optional(), ...who });
/** Cancel an order, with a reason. */
export const cancelOrderSchema = z.strictObject({ type: z.literal('CancelOrder'), reason, ...who });
/** Record a payment, once per payment id. */
export const recordPaymentSchema = z.strictObject({
  type: z.literal('RecordPayment'),
  paymentId: z.string().min(1).max(200),
  amount: moneySchema,
  ...who,
});
/** Start a fulfillment submission. */
export const startSubmissionSchema = z.strictObject({ type: z.literal('StartSubmission'), reason: reason.optional(), ...who });
/** The provider accepted a submission under its request id. */
export const recordProviderRequestSchema = z.strictObject({
  type: z.literal('RecordProviderRequest'),
  providerRequestId: z.string().min(1).max(200),
  ...who,
});
/** The provider is working on the order. */
export const markProcessingSchema = z.strictObject({ type: z.literal('MarkProcessing'), ...who });
/** Fulfillment completed. */
export const completeFulfillmentSchema = z.strictObject({ type: z.literal('CompleteFulfillment'), reason: reason.optional(), ...who });
/** Fulfillment failed, with a reason. */
export const failFulfillmentSchema = z.strictObject({
  type: z.literal('FailFulfillment'),
  reason,
  /** Fail only this submission attempt, and only while it is still `submitting` (a timeout). */
  attempt: z.number().int().positive().optional(),
  ...who,
});
/** A timed-out submission failed and the next one starts, in one append. */
export const retrySubmissionSchema = z.strictObject({
  type: z.literal('RetrySubmission'),
  /** The submission that failed: nothing happens unless the order is still `submitting` with this attempt. */
  attempt: z.number().int().positive(),
  /** Why that submission failed. */
  reason,
  /** Recorded on the new submission. */
  retryReason: reason.optional(),
  ...who,
});
/** Record the order's number. */
export const assignOrderNumberSchema = z.strictObject({
  type: z.literal('AssignOrderNumber'),
  number: z.string().min(1),
  prefix: z.string().min(1),
  day: z.string().regex(/^\d{8}$/),
  ...who,
});

/** Commands the order decider accepts. */
export const orderCommandSchema = z.discriminatedUnion('type', [
  placeOrderSchema,
  changeStatusSchema,
  cancelOrderSchema,
  recordPaymentSchema,
  startSubmissionSchema,
  recordProviderRequestSchema,
  markProcessingSchema,
  completeFulfillmentSchema,
  failFulfillmentSchema,
  retrySubmissionSchema,
  assignOrderNumberSchema,
]);
/** A command the order decider accepts. */
export type OrderCommand = z.infer<typeof orderCommandSchema>;
/** The command of type `T`. */
export type OrderCommandOf<T extends OrderCommand['type']> = Extract<OrderCommand, { type: T }>;
