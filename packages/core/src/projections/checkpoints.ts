import { OrdoError, ValidationError } from '../errors.js';

/**
 * Another copy of the projection moved the checkpoint first. Nothing was stored; the loser re-reads
 * the checkpoint and carries on from there (its effects, if any, were fenced or are absorbed).
 */
export class CheckpointConflictError extends OrdoError {
  static override readonly code = 'checkpoint_conflict';
  override name = 'CheckpointConflictError';
  constructor(
    readonly projection: string,
    readonly expected: bigint | null,
    readonly actual: bigint | null,
  ) {
    super(
      `Checkpoint of projection "${projection}" moved: expected ${expected ?? 'none'}, found ${actual ?? 'none'}`,
    );
  }
}

/**
 * Where projections keep their position in the global log. Every write is compare-and-set, so two
 * copies of one projection can never both advance it.
 *
 * `Tx` is the handle a store passes to projection code when it can write the projection's output
 * and its checkpoint in one transaction (PostgreSQL passes a `pg` client); `undefined` otherwise.
 */
export interface CheckpointStore<Tx = unknown> {
  /** The stored position, or `null` when the projection has none yet. */
  read(name: string): Promise<bigint | null>;
  /**
   * Stores `position` if the stored checkpoint is still `expected` (`null`: none).
   * @throws CheckpointConflictError otherwise; nothing is stored.
   */
  store(name: string, position: bigint, expected: bigint | null): Promise<void>;
  /**
   * Runs `work` and stores the checkpoint in one transaction: both happen or neither does. Stores
   * that cannot do this leave it out, and projections make their effects idempotent instead.
   * @throws CheckpointConflictError when the checkpoint is no longer `expected` (work is rolled back).
   */
  transaction?<T>(name: string, position: bigint, expected: bigint | null, work: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Forgets a checkpoint (a no-op when there is none), inside `tx` when given. A rebuild removes
   * its own checkpoint once it has swapped its output in; stores without it cannot be rebuilt.
   */
  remove?(name: string, tx?: Tx): Promise<void>;
  /**
   * Takes the lease of `name` for `owner`, or renews it: true when `owner` now holds it until
   * `ttlMs` from now (by the store's clock), false when another owner holds it and it has not
   * expired. A runner with the `lease` option works only while it holds the lease, so one copy of a
   * projection works and the others stand by. Stores that cannot keep leases leave this out (and
   * `releaseLease`).
   */
  acquireLease?(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives up the lease of `name` if `owner` holds it (a no-op otherwise), so a standby can take it at once. */
  releaseLease?(name: string, owner: string): Promise<void>;
}

/** Options of {@link MemoryCheckpointStore}. */
export interface MemoryCheckpointStoreOptions {
  /** The clock leases expire by, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Checkpoints in memory: for tests, the demo, and projections whose output is itself in memory. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, bigint>();
  private readonly leases = new Map<string, { owner: string; expiresAt: number }>();
  private readonly now: () => number;

  constructor(options: MemoryCheckpointStoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async read(name: string): Promise<bigint | null> {
    return this.positions.get(name) ?? null;
  }

  async store(name: string, position: bigint, expected: bigint | null): Promise<void> {
    const actual = this.positions.get(name) ?? null;
    if (actual !== expected) throw new CheckpointConflictError(name, expected, actual);
    this.positions.set(name, position);
  }

  /** Forgets the checkpoint of `name`. */
  async remove(name: string): Promise<void> {
    this.positions.delete(name);
  }

  /**
   * Takes or renews the lease of `name` for `owner`: true unless another owner holds it unexpired.
   * @throws ValidationError when `ttlMs` is not a positive number.
   */
  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    if (typeof ttlMs !== 'number' || !(ttlMs > 0) || !Number.isFinite(ttlMs)) {
      throw new ValidationError('projection lease', [{ path: 'ttlMs', message: 'must be a positive number of ms' }]);
    }
    const now = this.now();
    const lease = this.leases.get(name);
    if (lease && lease.owner !== owner && lease.expiresAt > now) return false;
    this.leases.set(name, { owner, expiresAt: now + ttlMs });
    return true;
  }

  /** Gives up the lease of `name` if `owner` holds it. */
  async releaseLease(name: string, owner: string): Promise<void> {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
  }
}
