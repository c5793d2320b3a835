/**
 * How a supervised loop waits between attempts: capped exponential backoff with jitter, so that
 * many runners meeting one outage do not all knock again at the same instant.
 */

/** Bounds of a backoff: the first delay and the largest one. */
export interface BackoffPolicy {
  /** Delay before the second attempt, in ms; each further one doubles it. */
  baseDelayMs: number;
  /** No delay is longer than this, in ms. */
  maxDelayMs: number;
}

/** The runner's backoff for transient failures: 100 ms doubling to 30 s. */
export const DEFAULT_TRANSIENT_BACKOFF: BackoffPolicy = { baseDelayMs: 100, maxDelayMs: 30_000 };

/**
 * The delay after the `failures`-th consecutive failure (1 for the first): half of the capped
 * exponential step fixed, half random, so a delay never collapses to zero yet runners spread out.
 * `random` returns a number in [0, 1) (default `Math.random`); pass a fixed one to test.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30); // 2^30 ms is past any sane cap already
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return step / 2 + (random() * step) / 2;
}

/** Thrown inside a runner when `stop()` interrupted a wait: the work in hand ends, nothing is blamed. */
export class StopRequested extends Error {
  override name = 'StopRequested';
  constructor() {
    super('stopped while waiting to retry');
  }
}
