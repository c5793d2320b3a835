import type { z } from 'zod';
import { ValidationError, type ValidationIssue } from './errors.js';

/**
 * Parses `input` with a zod schema, or throws a {@link ValidationError} that names every failing
 * field (`lines.0.quantity: Too small: expected number to be >0`).
 */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, subject: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(subject, toIssues(result.error));
}

/** Turns zod issues into Ordo's `{ path, message }` list. */
export function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}
