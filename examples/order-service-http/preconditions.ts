/**
 * HTTP preconditions and request keys for Ordo commands. Framework-agnostic.
 *
 * - An order's `ETag` is its stream version (strong, quoted): `"3"`.
 * - `If-Match: "3"` becomes the command's expected version, so a stale admin screen gets 412
 *   instead of overwriting a change it never saw.
 * - `Idempotency-Key` becomes the command id (namespaced), so a retried request is absorbed.
 */
import { HttpProblem } from './problem.js';

/** The ETag of an order at `version`. */
export function etagOf(version: bigint): string {
  return `"${version}"`;
}

/**
 * The expected version an `If-Match` header names, or `undefined` without the header.
 * `*` means "any current version" and is treated as no precondition.
 * @throws HttpProblem 400 for anything else than one strong ETag of ours.
 */
export function expectedVersionOf(ifMatch: string | string[] | undefined): bigint | undefined {
  if (ifMatch === undefined) return undefined;
  const value = Array.isArray(ifMatch) ? ifMatch.join(',') : ifMatch;
  if (value.trim() === '*') return undefined;
  const match = /^\s*"(\d{1,18})"\s*$/.exec(value);
  if (!match) {
    throw new HttpProblem(400, 'bad-precondition', 'Bad If-Match header', 'If-Match must be one ETag of this order, such as "3".');
  }
  return BigInt(match[1]!);
}

/** Printable ASCII, no spaces: a key that cannot smuggle anything into logs or stream names. */
const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/**
 * The value of an `Idempotency-Key` header, checked.
 * @throws HttpProblem 400 when it is missing (and `required`), repeated, empty, too long or not printable ASCII.
 */
export function idempotencyKeyOf(header: string | string[] | undefined, { required }: { required: boolean }): string | undefined {
  if (header === undefined) {
    if (!required) return undefined;
    throw new HttpProblem(400, 'idempotency-key-required', 'Idempotency-Key required', 'Send an Idempotency-Key header (a UUID per intended request).');
  }
  if (Array.isArray(header) || !KEY_PATTERN.test(header)) {
    throw new HttpProblem(400, 'bad-idempotency-key', 'Bad Idempotency-Key', 'Idempotency-Key must be 1-200 printable ASCII characters, sent once.');
  }
  return header;
}
