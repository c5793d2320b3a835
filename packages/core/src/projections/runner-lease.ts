import { UnsupportedOperationError, ValidationError, type ValidationIssue } from '../errors.js';
import { sleep } from '../store/subscription-loop.js';
import { isTransient } from '../transient.js';
import type { CheckpointStore } from './checkpoints.js';
import type { RunnerRecord } from './runner-status.js';
import { backoffDelay, type BackoffPolicy } from './supervision.js';

/**
 * One active copy of a projection across service instances: a runner with a lease works only while
 * it holds the lease of its projection in the checkpoint store, renewing it every third of its
 * time to live; the other copies stand by, try to take it at about the same pace, and take over
 * once the holder stops (it gives the lease up) or dies (the lease runs out).
 */

/** The `lease` option of a projection runner (see `ProjectionRunnerOptions.lease`). */
export interface ProjectionLeaseOptions {
  /**
   * How long the lease lasts without a renewal, in ms: a standby takes over about this long after
   * the holder died. The holder renews every third of it. Default 10,000; from 100 to 3,600,000.
   */
  ttlMs?: number;
  /** Who holds the lease, as the store records it (e.g. an instance name, for operators). Default: a random id per runner. */
  owner?: string;
}

/** The lease's time to live when the `lease` option gives none: 10 s. */
export const DEFAULT_LEASE_TTL_MS = 10_000;

const TTL_RANGE = { min: 100, max: 3_600_000 };

/** A runner's lease, checked: its time to live and its owner id. */
export interface LeaseSettings {
  ttlMs: number;
  owner: string;
}

/**
 * Checks the `lease` option of the runner of `projection`, and that its checkpoint store keeps leases.
 * @throws ValidationError naming `lease.ttlMs` or `lease.owner` when one makes no sense.
 * @throws UnsupportedOperationError when the checkpoint store has no `acquireLease` and `releaseLease`.
 */
export function leaseSettings(lease: unknown, checkpoints: CheckpointStore<unknown>, projection: string): LeaseSettings {
  if (typeof lease !== 'object' || lease === null) {
    throw new ValidationError('projection runner options', [{ path: 'lease', message: 'must be an object, e.g. { ttlMs: 10000 }' }]);
  }
  const { ttlMs = DEFAULT_LEASE_TTL_MS, owner = globalThis.crypto.randomUUID() } = lease as ProjectionLeaseOptions;
  const issues: ValidationIssue[] = [];
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < TTL_RANGE.min || ttlMs > TTL_RANGE.max) {
    issues.push({ path: 'lease.ttlMs', message: `must be a whole number of ms from ${TTL_RANGE.min} to ${TTL_RANGE.max}` });
  }
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > 200 || /[\u0000-\u001f\u007f]/.test(owner)) {
    issues.push({ path: 'lease.owner', message: 'must be 1–200 characters without control characters' });
  }
  if (issues.length > 0) throw new ValidationError('projection runner options', issues);
  if (typeof checkpoints.acquireLease !== 'function' || typeof checkpoints.releaseLease !== 'function') {
    throw new UnsupportedOperationError(
      `a lease for projection "${projection}"`,
      'its checkpoint store keeps no leases (it has no acquireLease and releaseLease); give one that does, or leave out the lease option',
    );
  }
  return { ttlMs, owner };
}

/** What a {@link LeaseKeeper} does to its runner. */
export interface LeaseHolder {
  /** The lease was taken: read the checkpoint and start handling. */
  activate(): Promise<void>;
  /**
   * The lease is gone (another owner has it, or it ran out unrenewed): stop handling at once and
   * resolve when nothing is in hand any more.
   */
  deactivate(): Promise<void>;
  /** Standing by: the checkpoint as the working copy left it (`null`: none yet). */
  followed(position: bigint | null): void;
  /** Whether anyone waits for a position (then a standby reads the checkpoint often). */
  waiting(): boolean;
}

/** What a {@link LeaseKeeper} works with. */
export interface LeaseKeeperContext extends LeaseSettings {
  checkpoints: CheckpointStore<unknown>;
  /** The projection's name: the lease's and the checkpoint's key. */
  name: string;
  /** Backoff after a failed attempt (capped at the renewal interval). */
  backoff: BackoffPolicy;
  /** The runner's record: failed attempts count as failures waited out. */
  record: RunnerRecord;
  holder: LeaseHolder;
}

/**
 * Keeps a runner's lease. Tries to take it every third of its time to live (jittered while
 * standing by), renews it as often while holding it, and tells the runner when it got it or lost
 * it. It counts the lease as held until the start of the last successful attempt plus the time to
 * live (never later than the store's own expiry, which is counted from a later instant), and
 * deactivates the runner at that moment if no renewal came: two copies never work at once past a
 * lease's expiry, even when the store cannot be reached.
 */
export class LeaseKeeper {
  private holding = false;
  /** Local time (ms) the lease runs out unless renewed. */
  private until = 0;
  private expiry: ReturnType<typeof setTimeout> | undefined;
  /** The last attempt failed: the next success ends the failure streak it started. */
  private failing = false;
  private life = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  /** Activations and deactivations, one after the other. */
  private transitions: Promise<void> = Promise.resolve();
  private following = false;
  private readonly interval: number;

  constructor(private readonly context: LeaseKeeperContext) {
    this.interval = context.ttlMs / 3;
  }

  /** This copy holds the lease, and it has not run out by the local clock. */
  get held(): boolean {
    return this.holding && Date.now() < this.until;
  }

  /**
   * Makes the first attempt, and keeps trying (or renewing) in the background. Resolves once the
   * first attempt is over, after the runner's activation when it got the lease.
   * @throws the store's error when the first attempt fails for a reason that is not transient.
   */
  async start(): Promise<void> {
    this.life = new AbortController();
    const delay = await this.attempt(true);
    await this.transitions;
    this.loop = this.keep(delay, this.life.signal);
  }

  /** Stops trying and renewing; resolves once no attempt or transition is under way. Keeps the lease. */
  async stop(): Promise<void> {
    this.life.abort();
    clearTimeout(this.expiry);
    await this.loop;
    await this.transitions;
    clearTimeout(this.expiry);
  }

  /** Gives the lease up, so a standby takes over at once. Best effort: a lease not given up runs out by itself. */
  async release(): Promise<void> {
    this.holding = false;
    this.until = 0;
    clearTimeout(this.expiry);
    await this.context.checkpoints.releaseLease!(this.context.name, this.context.owner).catch(() => undefined);
  }

  /** Someone waits for a position: while standing by, reads the checkpoint often until nobody waits. */
  async followWhileWaited(): Promise<void> {
    if (this.following) return;
    this.following = true;
    const signal = this.life.signal;
    try {
      while (!signal.aborted && !this.holding && this.context.holder.waiting()) {
        await this.follow();
        await sleep(Math.min(250, this.interval), signal);
      }
    } finally {
      this.following = false;
    }
  }

  private async keep(delay: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(delay, signal);
      if (signal.aborted) return;
      delay = await this.attempt(false);
    }
  }

  /** One attempt at taking or renewing the lease. Returns how long to wait before the next. */
  private async attempt(first: boolean): Promise<number> {
    const { checkpoints, name, owner, ttlMs, record } = this.context;
    const sentAt = Date.now();
    let taken: boolean;
    try {
      taken = await checkpoints.acquireLease!(name, owner, ttlMs);
    } catch (error) {
      if (first && !isTransient(error)) throw error;
      this.failing = true;
      record.failed(error, true);
      return Math.min(backoffDelay(record.consecutiveFailures, this.context.backoff), this.interval);
    }
    if (this.failing) {
      this.failing = false;
      record.succeeded();
    }
    if (this.life.signal.aborted) return 0; // stopping: `release` gives up whatever this got
    if (taken) {
      this.gain(sentAt + ttlMs);
      return this.interval;
    }
    this.lose();
    await this.transitions;
    await this.follow();
    void this.followWhileWaited();
    return this.interval * (0.75 + Math.random() * 0.5); // standbys spread out
  }

  /** The lease is held until `until` (local time): activate the runner unless it is active already. */
  private gain(until: number) {
    if (until <= Date.now()) return; // the answer came too late to count on: the next attempt decides
    this.until = until;
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.lose(), until - Date.now());
    this.transitions = this.transitions.then(async () => {
      if (this.holding || this.life.signal.aborted || this.until <= Date.now()) return;
      this.holding = true;
      this.context.record.touch();
      await this.context.holder.activate().catch(() => undefined);
    });
  }

  /** The lease is gone, or about to be: deactivate the runner now (its next activation waits for that). */
  private lose() {
    clearTimeout(this.expiry);
    this.until = 0; // an activation still queued is skipped
    if (!this.holding) return;
    this.holding = false;
    this.context.record.touch();
    const drained = this.context.holder.deactivate().catch(() => undefined);
    this.transitions = this.transitions.then(() => drained);
  }

  /** Reads the checkpoint for the runner while standing by. A failed read blames nothing: the next one tries again. */
  private async follow() {
    await this.transitions; // never while a deactivation still has work in hand
    try {
      const position = await this.context.checkpoints.read(this.context.name);
      if (!this.holding) this.context.holder.followed(position);
    } catch {
      // standing by, nothing depends on this read
    }
  }
}
