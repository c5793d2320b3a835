import { z } from 'zod';

/**
 * zod schemas of the order domain's inputs and events. Types are inferred from them, so a field
 * is declared once. Money is integer minor units (cents) with an ISO 4217 currency code.
 */

/** A currency: an ISO 4217 code in capitals, such as `EUR`. */
export const currencySchema = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "EUR"');

/** An amount of money: whole minor units (cents) in one currency. */
export const moneySchema = z.object({
  /** Minor units: 1250 is 12.50 in EUR. */
  amount: z.number().int('must be whole minor units (cents)').nonnegative(),
  currency: currencySchema,
});
/** An amount in minor units with its currency, e.g. `{ amount: 1250, currency: 'EUR' }` for 12.50 EUR. */
export type Money = z.infer<typeof moneySchema>;

/** One line of an order: a SKU and its name, how many, and the price of one. */
export const orderLineSchema = z.object({
  sku: z.string().min(1).max(100),
  name: z.string().min(1).max(200),
  quantity: z.number().int().positive().max(100_000),
  unitPrice: moneySchema,
});
/** One line of an order, as validated by {@link orderLineSchema}. */
export type OrderLine = z.infer<typeof orderLineSchema>;

/** Who ordered: a name and at least one way to be notified (an e-mail address or an E.164 phone number). */
export const customerSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    email: z.email().optional(),
    /** E.164, e.g. +4915112345678. */
    phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +4915112345678').optional(),
  })
  .refine((c) => c.email !== undefined || c.phone !== undefined, {
    message: 'needs an email or a phone number to be notified',
  });
/** Who ordered, as validated by {@link customerSchema}. */
export type Customer = z.infer<typeof customerSchema>;

/** An order number prefix, e.g. `GAM`. */
export const orderNumberPrefixSchema = z.string().regex(/^[A-Z][A-Z0-9]{0,9}$/, 'must be 1-10 capital letters or digits, starting with a letter');

/** What a caller gives to place an order. */
export const placeOrderInputSchema = z
  .object({
    /** Makes placing idempotent: a payment reference, a cart id. The order id derives from it. */
    idempotencyKey: z.string().min(1).max(200),
    customer: customerSchema,
    lines: z.array(orderLineSchema).min(1, 'an order needs at least one line').max(1000),
    currency: currencySchema,
    /** Order number prefix for this order (a brand or channel); the numbering projection has a default. */
    prefix: orderNumberPrefixSchema.optional(),
  })
  .superRefine((order, ctx) => {
    order.lines.forEach((line, i) => {
      if (line.unitPrice.currency !== order.currency) {
        ctx.addIssue({
          code: 'custom',
          path: ['lines', i, 'unitPrice', 'currency'],
          message: `must match the order currency ${order.currency}`,
        });
      }
    });
  });
/** What {@link OrderService.placeOrder} accepts (the input side of {@link placeOrderInputSchema}). */
export type PlaceOrderInput = z.input<typeof placeOrderInputSchema>;

/** An ISO 8601 timestamp with a time zone offset, as events record times (`2026-11-23T18:04:05.000Z`). */
export const isoTimestamp = z.iso.datetime({ offset: true });
const actor = z.string().min(1).max(200);
const reason = z.string().min(1).max(2000);
const uuid = z.uuid();

// ---- events -------------------------------------------------------------------------------------

/** Data of `OrderPlaced`: the order as placed, with its total and who placed it when. */
export const orderPlacedSchema = z.object({
  orderId: uuid,
  idempotencyKey: z.string(),
  customer: customerSchema,
  lines: z.array(orderLineSchema),
  total: moneySchema,
  prefix: orderNumberPrefixSchema.optional(),
  placedAt: isoTimestamp,
  placedBy: actor,
});

/** Data of `OrderStatusChanged`: from which status to which, by whom, when and why. */
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

/** Data of `PaymentRecorded`: a payment reference and amount recorded on the order. */
export const paymentRecordedSchema = z.object({
  orderId: uuid,
  paymentId: z.string().min(1).max(200),
  amount: moneySchema,
  by: actor,
  at: isoTimestamp,
});

/** Data of `OrderNumberAssigned`: the number the numbering projection gave the order, and its prefix and day. */
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

/** Data of the `OrderPlaced` event. */
export type OrderPlaced = z.infer<typeof orderPlacedSchema>;
/** Data of the `OrderStatusChanged` event. */
export type OrderStatusChanged = z.infer<typeof orderStatusChangedSchema>;
/** Data of the `PaymentRecorded` event. */
export type PaymentRecorded = z.infer<typeof paymentRecordedSchema>;
/** Data of the `OrderNumberAssigned` event. */
export type OrderNumberAssigned = z.infer<typeof orderNumberAssignedSchema>;

/** The events of an order stream. */
export type OrderEvent =
  | { type: 'OrderPlaced'; data: OrderPlaced }
  | { type: 'OrderStatusChanged'; data: OrderStatusChanged }
  | { type: 'PaymentRecorded'; data: PaymentRecorded }
  | { type: 'OrderNumberAssigned'; data: OrderNumberAssigned };

/** The type names of order events: `OrderPlaced`, `OrderStatusChanged`, `PaymentRecorded`, `OrderNumberAssigned`. */
export type OrderEventType = OrderEvent['type'];

// ---- commands -----------------------------------------------------------------------------------

const who = { orderId: uuid, actor, at: isoTimestamp };

/** Commands the order decider accepts. Time and actor arrive on the command; the decider reads no clock. */
export const orderCommandSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('PlaceOrder'),
    idempotencyKey: z.string().min(1).max(200),
    customer: customerSchema,
    lines: z.array(orderLineSchema).min(1),
    currency: currencySchema,
    prefix: orderNumberPrefixSchema.optional(),
    ...who,
  }),
  z.object({ type: z.literal('ChangeStatus'), to: z.string().min(1), reason: reason.optional(), ...who }),
  z.object({ type: z.literal('CancelOrder'), reason, ...who }),
  z.object({ type: z.literal('RecordPayment'), paymentId: z.string().min(1).max(200), amount: moneySchema, ...who }),
  z.object({ type: z.literal('StartSubmission'), reason: reason.optional(), ...who }),
  z.object({ type: z.literal('RecordProviderRequest'), providerRequestId: z.string().min(1).max(200), ...who }),
  z.object({ type: z.literal('MarkProcessing'), ...who }),
  z.object({ type: z.literal('CompleteFulfillment'), reason: reason.optional(), ...who }),
  z.object({
    type: z.literal('FailFulfillment'),
    reason,
    /** Fail only this submission attempt, and only while it is still `submitting` (a timeout). */
    attempt: z.number().int().positive().optional(),
    ...who,
  }),
  z.object({
    type: z.literal('RetrySubmission'),
    /** The submission that failed: nothing happens unless the order is still `submitting` with this attempt. */
    attempt: z.number().int().positive(),
    /** Why that submission failed. */
    reason,
    /** Recorded on the new submission. */
    retryReason: reason.optional(),
    ...who,
  }),
  z.object({
    type: z.literal('AssignOrderNumber'),
    number: z.string().min(1),
    prefix: z.string().min(1),
    day: z.string().regex(/^\d{8}$/),
    ...who,
  }),
]);
/** A command of the order decider, as validated by {@link orderCommandSchema}. */
export type OrderCommand = z.infer<typeof orderCommandSchema>;
