/**
 * Which errors are worth waiting out. A transient error says nothing about the work that met it:
 * the database restarted, a socket dropped, a deadline passed, two transactions collided. Running
 * the same work again later succeeds once the cause is gone, so supervisors retry such errors for
 * as long as it takes instead of blaming the work.
 */

/** SQLSTATEs a PostgreSQL server sends when the work itself is fine and only its moment was bad. */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '53300']);
/** Node's socket errors for a peer that went away or never answered. */
const TRANSIENT_SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);
/** gRPC status codes (EventStoreDB): 4 DEADLINE_EXCEEDED, 14 UNAVAILABLE. */
const TRANSIENT_GRPC_CODES = new Set([4, 14]);
/** Ordo's own retry-safe store errors, recognised by their stable `code`. */
const TRANSIENT_ORDO_CODES = new Set(['store_unavailable', 'append_outcome_unknown']);
/** Messages of driver errors that carry no code (node-postgres closing or failing a connection). */
const TRANSIENT_MESSAGE = /connection terminated|connection ended|timeout exceeded when trying to connect|client has encountered a connection error/i;

/** How deep {@link isTransient} follows `cause` (wrappers of wrappers), so a cycle cannot hang it. */
const MAX_CAUSE_DEPTH = 5;

/**
 * True when `error` (or an error it wraps as `cause`) is transient: PostgreSQL connection errors
 * (SQLSTATE class 08), serialization failures and deadlocks (40001, 40P01), an administrator or
 * crash shutdown (57P01–57P03), too many connections (53300); the socket codes ECONNRESET,
 * ECONNREFUSED, EPIPE and ETIMEDOUT; gRPC UNAVAILABLE and DEADLINE_EXCEEDED; and Ordo errors whose
 * `code` is `store_unavailable` or `append_outcome_unknown`. Pure: it only looks at the value.
 */
export function isTransient(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current !== null && typeof current === 'object'; depth++) {
    if (isTransientItself(current as { code?: unknown; message?: unknown })) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function isTransientItself(error: { code?: unknown; message?: unknown }): boolean {
  const { code } = error;
  if (typeof code === 'number') return TRANSIENT_GRPC_CODES.has(code);
  if (typeof code === 'string') {
    // Socket codes first: EPIPE has the shape of a SQLSTATE.
    if (TRANSIENT_SOCKET_CODES.has(code) || TRANSIENT_ORDO_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || TRANSIENT_SQLSTATES.has(code);
  }
  return typeof error.message === 'string' && TRANSIENT_MESSAGE.test(error.message);
}
