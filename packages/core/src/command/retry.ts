/** How the handler retries after losing an optimistic-concurrency race. */
export interface RetryPolicy {
  /** Tries in all, the first included. Default 25: enough for dozens of writers on one stream. */
  maxAttempts: number;
  /** Backoff is full jitter: a random delay up to `min(maxDelayMs, baseDelayMs * 2^(attempt-1))`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The policy a handler uses for whatever its options leave out. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 25, baseDelayMs: 2, maxDelayMs: 100 };

/**
 * How long to wait after losing race number `attempt` (1-based): full jitter under an exponential
 * ceiling, so writers that collided once spread out instead of colliding again in step.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return random() * ceiling;
}
