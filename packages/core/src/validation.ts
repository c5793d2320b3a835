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

/**
 * Turns zod issues into Ordo's `{ path, message }` list. Unknown keys of a strict object become one
 * issue each, with the key in the path (`customer.nmae: unknown field`), so the error names them.
 */
export function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    if (issue.code !== 'unrecognized_keys') return [{ path: at.join('.'), message: issue.message }];
    return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown field' }));
  });
}
