/**
 * The shapes of request bodies. Objects are strict: a field the API does not know (an `actor`, a
 * `status` smuggled into an order) is refused with 400, never silently ignored. Values are checked
 * by the order service, whose messages name the failing field.
 */
import { z } from 'zod';
import { ValidationError, type ValidationIssue } from '@ordo/core';

const money = z.strictObject({ amount: z.unknown(), currency: z.unknown() });
const line = z.strictObject({ sku: z.unknown(), name: z.unknown(), quantity: z.unknown(), unitPrice: money });
const customer = z.strictObject({ name: z.unknown().optional(), email: z.unknown().optional(), phone: z.unknown().optional() });

/** `POST /orders`: the key comes in the `Idempotency-Key` header, the actor from the server. */
export const placeOrderBody = z.strictObject({
  customer,
  lines: z.array(line).max(1000),
  currency: z.unknown(),
  prefix: z.unknown().optional(),
});

/** `POST /orders/:id/status`. */
export const changeStatusBody = z.strictObject({
  to: z.string().min(1).max(50),
  reason: z.string().min(1).max(2000).optional(),
});

/** `POST /webhooks/payments`: a payment provider's "checkout completed". */
export const paymentWebhookBody = z.strictObject({
  /** The provider's payment reference: orders and payments are idempotent by it. */
  reference: z.string().regex(/^[\x21-\x7e]{1,100}$/, 'must be 1-100 printable ASCII characters'),
  amount: money,
  order: placeOrderBody,
});

/** `POST /webhooks/fulfillment`: the fulfillment provider reports progress. */
export const fulfillmentWebhookBody = z.strictObject({
  orderId: z.string().max(100),
  event: z.enum(['accepted', 'processing', 'completed', 'failed']),
  providerRequestId: z.string().min(1).max(200).optional(),
  reason: z.string().min(1).max(2000).optional(),
});

/** `POST /login`. */
export const loginBody = z.strictObject({ username: z.string().max(100), password: z.string().max(200) });

/**
 * Parses a body, or throws Ordo's `ValidationError` naming every failing field, so the error
 * mapping answers 400 with the fields as for any other invalid input.
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, subject: string): z.output<T> {
  const result = schema.safeParse(body ?? undefined);
  if (result.success) return result.data;
  const issues: ValidationIssue[] = result.error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: path ? `${path}.${key}` : key, message: 'is not a field of this request' }));
    }
    return [{ path, message: body === undefined ? 'a JSON body is required' : issue.message }];
  });
  throw new ValidationError(subject, issues);
}
