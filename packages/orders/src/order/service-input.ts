import { z } from 'zod';
import { parseOrThrow, toIssues, ValidationError } from '@ordo/core';
import { assignOrderNumberSchema, recordPaymentSchema } from './commands.js';

/**
 * What the service's methods accept besides an order id, as strict schemas: a key a method does not
 * know is refused with a `ValidationError` naming it. Fields that become command fields (`reason`,
 * `attempt`, `retryReason`) are only admitted here; the command's schema checks their values.
 */

const text = z.string().min(1).max(200);
/** Who asks and how a retry is recognised: the command's context, not its fields. */
const contextShape = {
  actor: text.optional(),
  commandId: text.optional(),
  correlationId: text.optional(),
  causationId: text.optional(),
  expectedVersion: z.bigint().nonnegative().optional(),
};
/** A command field passed through options; the command's schema checks it. */
const field = z.unknown().optional();

/** The options each service method takes. */
export const optionSchemas = {
  plain: z.strictObject(contextShape),
  withReason: z.strictObject({ ...contextShape, reason: field }),
  fail: z.strictObject({ ...contextShape, reason: field, attempt: field }),
  retry: z.strictObject({ ...contextShape, reason: field, attempt: field, retryReason: field }),
} as const;
/** Which options a method takes. */
export type OptionsKind = keyof typeof optionSchemas;

/** A payment as `recordPayment` takes it. */
export const paymentInputSchema = recordPaymentSchema.pick({ paymentId: true, amount: true });
/** An order number as `assignNumber` takes it. */
export const numberInputSchema = assignOrderNumberSchema.pick({ number: true, prefix: true, day: true });

/** An order id: a UUID. */
export const orderIdSchema = z.uuid('must be an order id (UUID)');

/** Parsed options: the context, and the fields they add to the command (only those given). */
export function parseOptions(kind: OptionsKind, options: unknown) {
  const { actor, commandId, correlationId, causationId, expectedVersion, ...fields } = parseOrThrow(optionSchemas[kind], options ?? {}, 'command options');
  return { context: { actor, commandId, correlationId, causationId, expectedVersion }, fields: fields as Record<string, unknown> };
}

/** Parses one argument, naming it in the issues (`orderId`, `to`) as a command's field would be. */
export function parseField<T extends z.ZodType>(field: string, schema: T, value: unknown, subject: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = toIssues(result.error).map((issue) => ({ ...issue, path: issue.path ? `${field}.${issue.path}` : field }));
  throw new ValidationError(subject, issues);
}
