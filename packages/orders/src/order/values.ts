import { z } from 'zod';

/**
 * The values orders are made of: money, lines, customers. Money is integer minor units (cents)
 * with an ISO 4217 currency code. Each value has two schemas from one definition: a strict one for
 * what callers send (an unknown key is refused, so a typo like `prefx` is not silently dropped) and
 * a tolerant one for reading recorded events.
 */

/** An ISO 4217 currency code. */
export const currencySchema = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "EUR"');

/** An order number prefix, e.g. `GAM`. */
export const orderNumberPrefixSchema = z.string().regex(/^[A-Z][A-Z0-9]{0,9}$/, 'must be 1-10 capital letters or digits, starting with a letter');

/** When something happened, ISO 8601 with an offset. */
export const isoTimestamp = z.iso.datetime({ offset: true });

/** `z.object` (unknown keys dropped) or `z.strictObject` (unknown keys refused). */
type ObjectKind = typeof z.object | typeof z.strictObject;

function valueSchemas(object: ObjectKind) {
  const money = object({
    /** Minor units: 1250 is 12.50 in EUR. Whole and at most `Number.MAX_SAFE_INTEGER`, so sums stay exact. */
    amount: z.number().int('must be whole minor units (cents)').nonnegative(),
    currency: currencySchema,
  });
  const line = object({
    sku: z.string().min(1).max(100),
    name: z.string().min(1).max(200),
    quantity: z.number().int().positive().max(100_000),
    unitPrice: money,
  });
  const customer = object({
    name: z.string().min(1).max(200).optional(),
    email: z.email().optional(),
    /** E.164, e.g. +4915112345678. */
    phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +4915112345678').optional(),
  }).refine((c) => c.email !== undefined || c.phone !== undefined, {
    message: 'needs an email or a phone number to be notified',
  });
  return { money, line, customer };
}

/** Values as callers send them: unknown keys are refused. */
const sent = valueSchemas(z.strictObject);
/** Values as events record them: read tolerantly. */
export const recordedValues = valueSchemas(z.object);

/** An amount in minor units and its currency, as callers send it. */
export const moneySchema = sent.money;
/** An amount in minor units (cents) and its ISO 4217 currency. */
export type Money = z.infer<typeof moneySchema>;

/** One line of an order, as callers send it. */
export const orderLineSchema = sent.line;
/** One line of an order: what, how many, at what unit price. */
export type OrderLine = z.infer<typeof orderLineSchema>;

/** Who to notify: an email or a phone number at least, as callers send it. */
export const customerSchema = sent.customer;
/** Who ordered, and how to reach them. */
export type Customer = z.infer<typeof customerSchema>;
