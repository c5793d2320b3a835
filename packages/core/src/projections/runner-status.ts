import { START } from '../store/event-store.js';
import type { ProjectionError, ProjectionState, ProjectionStatus } from './health.js';

/**
 * A runner's record of how it is doing: failures in a row, the last error, whether it has reached
 * the head, the newest position it has seen, and since when its state has been what it is.
 */
export class RunnerRecord {
  consecutiveFailures = 0;
  lastError: ProjectionError | undefined;
  /** The subscription reported the head, and everything up to it is handled. */
  caughtUp = false;
  /** The newest position seen: reported as the head, or delivered. */
  head: bigint = START;
  private since = new Date();
  private last: ProjectionState;

  constructor(private readonly stateOf: (record: RunnerRecord) => ProjectionState) {
    this.last = stateOf(this);
  }

  /** Call after anything that may change the state: `since` moves when the state does. */
  touch(): void {
    const state = this.stateOf(this);
    if (state !== this.last) {
      this.last = state;
      this.since = new Date();
    }
  }

  /** An attempt failed; `retried` says it will be waited out rather than counted towards poison. */
  failed(error: unknown, retried: boolean): void {
    this.consecutiveFailures++;
    this.lastError = {
      name: error instanceof Error ? error.name : typeof error,
      message: error instanceof Error ? error.message : String(error),
      at: new Date(),
      retried,
    };
    this.touch();
  }

  /** An attempt succeeded: the failure streak ends (the last error stays, for the record). */
  succeeded(): void {
    if (this.consecutiveFailures === 0) return;
    this.consecutiveFailures = 0;
    this.touch();
  }

  /** A position the runner has seen exist. */
  saw(position: bigint): void {
    if (position > this.head) this.head = position;
  }

  /** Back to a fresh start (on `start()`). */
  reset(): void {
    this.consecutiveFailures = 0;
    this.caughtUp = false;
    this.touch();
  }

  /** The status as `runner.status()` reports it. `oldest`: the oldest event in hand, if any. */
  snapshot(name: string, position: bigint, oldest: Date | undefined, now = Date.now()): ProjectionStatus {
    return {
      name,
      state: this.stateOf(this),
      position,
      lag: {
        events: this.head > position ? this.head - position : 0n,
        seconds: oldest ? Math.max(0, (now - oldest.getTime()) / 1000) : 0,
      },
      lastError: this.lastError,
      consecutiveFailures: this.consecutiveFailures,
      since: this.since,
    };
  }
}
