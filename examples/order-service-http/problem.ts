/**
 * RFC 9457 problem details from Ordo's typed errors. Framework-agnostic: give it an error, get a
 * status, headers and a body to send as `application/problem+json`.
 *
 * Errors are recognised by their `name`, or by their stable `code`, never by `instanceof`: that
 * keeps working when two copies of the package are loaded (ESM and CJS, or two versions).
 */

/** The media type of a problem body. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** A problem body (RFC 9457) with Ordo's extension members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

/** What to send for an error. */
export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  body: Problem;
}

/** The request facts the mapping needs: whether the client sent a version precondition. */
export interface ProblemContext {
  /** True when the request carried `If-Match`: a version conflict is then a failed precondition. */
  conditional?: boolean;
  /** Seconds a client should wait before retrying after the store was unavailable. Default 1. */
  retryAfterSeconds?: number;
}

type ErrorLike = Error & Record<string, unknown>;

const problemType = (slug: string) => `urn:ordo:problem:${slug}`;

/** Error `code`s of Ordo errors, mapped to the error names this table is keyed by. */
const NAME_OF_CODE: Record<string, string> = {
  validation_error: 'ValidationError',
  validation: 'ValidationError',
  invalid_transition: 'InvalidTransitionError',
  idempotency_conflict: 'IdempotencyConflictError',
  wrong_expected_version: 'WrongExpectedVersionError',
  order_not_found: 'OrderNotFoundError',
  stream_not_found: 'StreamNotFoundError',
  store_unavailable: 'StoreUnavailableError',
  append_outcome_unknown: 'AppendOutcomeUnknownError',
  refund_without_payment: 'RefundWithoutPaymentError',
  currency_mismatch: 'CurrencyMismatchError',
};

type Mapper = (error: ErrorLike, context: ProblemContext) => ProblemResponse;

const problem = (status: number, slug: string, title: string, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): ProblemResponse => ({
  status,
  headers,
  body: { type: problemType(slug), title, status, detail, ...extra },
});

const unavailable: Mapper = (error, context) =>
  problem(
    503,
    'store-unavailable',
    'The order store is unavailable',
    error.name === 'AppendOutcomeUnknownError'
      ? 'The change may or may not have been recorded; retry the same request with the same Idempotency-Key.'
      : 'Nothing was written; retry the request.',
    {},
    { 'retry-after': String(context.retryAfterSeconds ?? 1) },
  );

/** The mapping, by error name. The README's table lists the same rows. */
const MAPPERS: Record<string, Mapper> = {
  ValidationError: (e) =>
    problem(400, 'validation', 'The request is invalid', String(e.message), { errors: Array.isArray(e.issues) ? e.issues : [] }),
  InvalidTransitionError: (e) =>
    problem(409, 'invalid-transition', 'The order cannot move to that status', String(e.message), {
      from: e.from,
      to: e.to,
      allowed: e.allowed,
    }),
  IdempotencyConflictError: (e) =>
    problem(422, 'idempotency-conflict', 'The Idempotency-Key was used for a different request', String(e.message), {
      orderId: e.orderId,
    }),
  WrongExpectedVersionError: (e, context) => {
    const currentVersion = typeof e.actual === 'bigint' ? e.actual.toString() : null;
    const headers: Record<string, string> = currentVersion === null ? {} : { etag: `"${currentVersion}"` };
    if (context.conditional && e.attempts === undefined) {
      return problem(412, 'stale-version', 'The order changed since you read it', 'Reload the order and decide again.', { currentVersion }, headers);
    }
    return problem(409, 'concurrent-update', 'The order kept changing while we tried', 'Retry the request.', { currentVersion }, headers);
  },
  OrderNotFoundError: () => problem(404, 'not-found', 'No such order', 'There is no order with this id.'),
  StreamNotFoundError: () => problem(404, 'not-found', 'Not found', 'There is nothing here.'),
  RefundWithoutPaymentError: (e) => problem(409, 'refund-without-payment', 'Nothing to refund', String(e.message)),
  CurrencyMismatchError: (e) => problem(422, 'currency-mismatch', 'Wrong currency', String(e.message)),
  StoreUnavailableError: unavailable,
  AppendOutcomeUnknownError: unavailable,
};

/** A client error raised by the HTTP layer itself (bad header, missing session, bad signature). */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

/**
 * The problem response for any thrown value. Unknown errors become a bare 500 with no message or
 * stack: those are bugs, logged by the caller, never shown to a client.
 */
export function problemFor(error: unknown, context: ProblemContext = {}): ProblemResponse {
  if (error instanceof HttpProblem) return problem(error.status, error.slug, error.title, error.detail, error.extra);
  if (!(error instanceof Error)) return internal();
  const e = error as ErrorLike;
  const byName = MAPPERS[e.name];
  const byCode = typeof e.code === 'string' ? MAPPERS[NAME_OF_CODE[e.code] ?? ''] : undefined;
  const mapper = byName ?? byCode;
  if (mapper) return mapper(e, context);
  return frameworkProblem(e) ?? internal();
}

/** Errors a web framework raises for bad requests (malformed JSON, oversized or unsupported bodies). */
function frameworkProblem(e: ErrorLike): ProblemResponse | undefined {
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  const titles: Record<number, [string, string]> = {
    400: ['bad-request', 'The request could not be read'],
    404: ['not-found', 'Not found'],
    405: ['method-not-allowed', 'Method not allowed'],
    413: ['too-large', 'The request body is too large'],
    415: ['unsupported-media-type', 'Send application/json'],
  };
  const [slug, title] = titles[status] ?? ['bad-request', 'Bad request'];
  // The framework's own messages name only what was wrong with the request; nothing internal.
  return problem(status, slug, title, String(e.message));
}

function internal(): ProblemResponse {
  return problem(500, 'internal', 'Something went wrong on our side', 'The error was logged.');
}

/** JSON with bigints as strings (versions and positions are bigints). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
