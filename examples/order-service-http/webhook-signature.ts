/**
 * Webhook signatures: `x-ordo-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
 * The timestamp bounds replays; the HMAC proves the sender knows the shared secret. Checked on the
 * raw bytes before the body is parsed, so nothing from an unsigned request reaches the domain.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { HttpProblem } from './problem.js';

/** The header that carries the signature. */
export const SIGNATURE_HEADER = 'x-ordo-signature';

/** Signs a body as a provider would (tests and the demo use it). */
export function signWebhook(secret: string, rawBody: string, at: Date = new Date()): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${hmac(secret, `${t}.${rawBody}`)}`;
}

/**
 * Checks a signature header against the raw body.
 * @throws HttpProblem 401 when it is missing, malformed, stale (beyond `toleranceSeconds`, default 300) or wrong.
 */
export function verifyWebhook(
  secret: string,
  rawBody: string,
  header: string | string[] | undefined,
  { now = new Date(), toleranceSeconds = 300 }: { now?: Date; toleranceSeconds?: number } = {},
): void {
  const refuse = (detail: string) => new HttpProblem(401, 'bad-signature', 'Webhook signature refused', detail);
  if (typeof header !== 'string') throw refuse(`Send one ${SIGNATURE_HEADER} header.`);
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header.trim());
  if (!match) throw refuse('The signature header is malformed.');
  const t = Number(match[1]);
  if (Math.abs(now.getTime() / 1000 - t) > toleranceSeconds) throw refuse('The signature is too old or from the future.');
  const expected = Buffer.from(hmac(secret, `${t}.${rawBody}`), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(match[2]!, 'hex'))) throw refuse('The signature does not match the body.');
}

function hmac(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}
