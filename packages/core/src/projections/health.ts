/**
 * What a runner says about itself, and one verdict over several runners for a readiness probe.
 */

/**
 * Where a runner is:
 * - `catching-up`: started, reading its backlog, not yet at the head of the log;
 * - `running`: at the head (live);
 * - `retrying`: the last attempt failed (a lost connection, a failed checkpoint write, or a handler
 *   failure still within its attempts); it tries again after a backoff, by itself;
 * - `standby`: started with a lease (see the runner's `lease` option) that another copy holds; it
 *   takes over when that copy stops or dies. Healthy, unless it keeps failing to reach the store;
 * - `stopped-on-poison`: stopped on an event the handler keeps failing on (see `failure`);
 * - `stopped`: not started, or stopped by `stop()`.
 */
export type ProjectionState = 'running' | 'catching-up' | 'retrying' | 'standby' | 'stopped-on-poison' | 'stopped';

/** The last error a runner met, as plain data (safe to log or serve as JSON after bigint handling). */
export interface ProjectionError {
  name: string;
  message: string;
  at: Date;
  /** True when it was waited out as transient (or was a read or checkpoint failure, always retried). */
  retried: boolean;
}

/** One runner's status: what `runner.status()` returns. */
export interface ProjectionStatus {
  /** The projection's name. */
  name: string;
  state: ProjectionState;
  /** Everything up to here has been handled. */
  position: bigint;
  /**
   * How far behind it is. `events`: positions between `position` and the newest position the
   * runner has seen (the head as last reported, or the newest event delivered); exact figures
   * come from `runner.lag()`, which asks the store. `seconds`: age of the oldest event delivered
   * and not yet handled (0 when there is none).
   */
  lag: { events: bigint; seconds: number };
  lastError: ProjectionError | undefined;
  /** Failed attempts since the last success (0 when the last attempt succeeded). */
  consecutiveFailures: number;
  /** When `state` last changed. */
  since: Date;
}

/** The verdict of {@link health}: `ready` (all live), `degraded` (working, but behind or retrying), `failing`. */
export type HealthVerdict = 'ready' | 'degraded' | 'failing';

/** What {@link health} returns: the verdict, why, and every runner's status. */
export interface Health {
  status: HealthVerdict;
  /** One line per runner that is not simply running or standing by, e.g. `order-numbers: retrying (3 failures): connect ECONNREFUSED`. */
  reasons: string[];
  projections: ProjectionStatus[];
}

/** Thresholds of {@link health}. */
export interface HealthOptions {
  /** A runner retrying this many times in a row counts as failing, not degraded. Default 10. */
  failingAfter?: number;
  /** A running runner whose lag exceeds this many seconds counts as degraded. Default 60. */
  maxLagSeconds?: number;
}

/** Anything with a status: a projection runner (or a reactor that reports the same shape). */
export interface HasStatus {
  status(): ProjectionStatus;
}

/**
 * One verdict over `runners` for a readiness probe: `failing` when any is stopped (on a poison
 * event or by hand) or has been retrying `failingAfter` times in a row; `degraded` when any is
 * catching up, retrying fewer times, or lags more than `maxLagSeconds`; else `ready`. A runner
 * standing by for another copy's lease is ready, unless its attempts at the lease keep failing
 * (then it counts as retrying).
 */
export function health(runners: readonly HasStatus[], options: HealthOptions = {}): Health {
  return assessHealth(
    runners.map((r) => r.status()),
    options,
  );
}

/** {@link health} over statuses already taken: a pure function, for tests and custom probes. */
export function assessHealth(statuses: readonly ProjectionStatus[], options: HealthOptions = {}): Health {
  const failingAfter = options.failingAfter ?? 10;
  const maxLagSeconds = options.maxLagSeconds ?? 60;
  let status: HealthVerdict = 'ready';
  const reasons: string[] = [];
  const note = (verdict: Exclude<HealthVerdict, 'ready'>, reason: string) => {
    if (verdict === 'failing' || status === 'ready') status = verdict;
    reasons.push(reason);
  };
  for (const s of statuses) {
    const error = s.lastError ? `: ${s.lastError.message}` : '';
    switch (s.state) {
      case 'stopped-on-poison':
        note('failing', `${s.name}: stopped on a poison event${error}`);
        break;
      case 'stopped':
        note('failing', `${s.name}: stopped`);
        break;
      case 'retrying':
        note(s.consecutiveFailures >= failingAfter ? 'failing' : 'degraded', `${s.name}: retrying (${s.consecutiveFailures} failures)${error}`);
        break;
      case 'standby':
        if (s.consecutiveFailures > 0) {
          note(s.consecutiveFailures >= failingAfter ? 'failing' : 'degraded', `${s.name}: standing by, retrying (${s.consecutiveFailures} failures)${error}`);
        }
        break;
      case 'catching-up':
        note('degraded', `${s.name}: catching up (${s.lag.events} events, ${Math.round(s.lag.seconds)} s behind)`);
        break;
      case 'running':
        if (s.lag.seconds > maxLagSeconds) note('degraded', `${s.name}: ${Math.round(s.lag.seconds)} s behind`);
        break;
    }
  }
  return { status, reasons, projections: [...statuses] };
}
