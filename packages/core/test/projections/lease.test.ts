/**
 * Projection leases in core: the memory store's lease semantics, the runner's checks of the
 * `lease` option, and how health judges a copy standing by.
 */
import { describe, expect, it } from 'vitest';
import {
  assessHealth,
  createProjectionRunner,
  isUnsupportedOperationError,
  isValidationError,
  MemoryCheckpointStore,
  MemoryEventStore,
  type CheckpointStore,
  type ProjectionStatus,
} from '@ordo/core';

describe('MemoryCheckpointStore leases', () => {
  /** A store whose clock the test moves by hand. */
  function atTime() {
    const clock = { now: 1_000 };
    return { clock, checkpoints: new MemoryCheckpointStore({ now: () => clock.now }) };
  }

  it('takes a free lease, renews it for the same owner, and refuses another owner until it expires', async () => {
    const { clock, checkpoints } = atTime();
    expect(await checkpoints.acquireLease('p', 'a', 100)).toBe(true);
    expect(await checkpoints.acquireLease('p', 'b', 100)).toBe(false);
    clock.now += 99;
    expect(await checkpoints.acquireLease('p', 'a', 100)).toBe(true); // renewed: now until 1199
    clock.now += 99;
    expect(await checkpoints.acquireLease('p', 'b', 100)).toBe(false);
    clock.now += 1; // 1199: expired
    expect(await checkpoints.acquireLease('p', 'b', 100)).toBe(true);
    expect(await checkpoints.acquireLease('p', 'a', 100)).toBe(false);
  });

  it('keeps one lease per name', async () => {
    const { checkpoints } = atTime();
    expect(await checkpoints.acquireLease('p', 'a', 100)).toBe(true);
    expect(await checkpoints.acquireLease('q', 'b', 100)).toBe(true);
    expect(await checkpoints.acquireLease('q', 'a', 100)).toBe(false);
  });

  it('release frees the lease at once, and only its owner can release it', async () => {
    const { checkpoints } = atTime();
    await checkpoints.acquireLease('p', 'a', 100);
    await checkpoints.releaseLease('p', 'b');
    expect(await checkpoints.acquireLease('p', 'b', 100)).toBe(false);
    await checkpoints.releaseLease('p', 'a');
    expect(await checkpoints.acquireLease('p', 'b', 100)).toBe(true);
    await checkpoints.releaseLease('nothing-here', 'a'); // a no-op
  });

  it('refuses a ttl that is not a positive number', async () => {
    const { checkpoints } = atTime();
    for (const ttl of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(checkpoints.acquireLease('p', 'a', ttl)).rejects.toSatisfy(isValidationError);
    }
  });
});

describe('the runner’s lease option', () => {
  const projection = { name: 'p', handle: () => undefined };
  const store = new MemoryEventStore();

  it('needs a checkpoint store that keeps leases: a typed error at creation names the problem', () => {
    const inner = new MemoryCheckpointStore();
    const withoutLeases: CheckpointStore = { read: (n) => inner.read(n), store: (n, p, e) => inner.store(n, p, e) };
    let caught: unknown;
    try {
      createProjectionRunner({ store, checkpoints: withoutLeases, projection, lease: {} });
    } catch (error) {
      caught = error;
    }
    expect(caught).toSatisfy(isUnsupportedOperationError);
    expect(String(caught)).toMatch(/projection "p".*keeps no leases/);
    expect(() => createProjectionRunner({ store, checkpoints: withoutLeases, projection })).not.toThrow();
  });

  it.each([
    [{ ttlMs: 0 }, 'lease.ttlMs'],
    [{ ttlMs: 99 }, 'lease.ttlMs'],
    [{ ttlMs: 2.5e3 + 0.5 }, 'lease.ttlMs'],
    [{ ttlMs: '10000' }, 'lease.ttlMs'],
    [{ ttlMs: 3_600_001 }, 'lease.ttlMs'],
    [{ owner: '' }, 'lease.owner'],
    [{ owner: 'a\nb' }, 'lease.owner'],
    [null, 'lease'],
  ])('refuses %o with a ValidationError naming %s', (lease, path) => {
    let caught: unknown;
    try {
      createProjectionRunner({ store, checkpoints: new MemoryCheckpointStore(), projection, lease: lease as never });
    } catch (error) {
      caught = error;
    }
    expect(caught).toSatisfy(isValidationError);
    expect((caught as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([path]);
  });

  it('accepts the bounds of ttlMs and any short owner', () => {
    for (const lease of [{}, { ttlMs: 100 }, { ttlMs: 3_600_000 }, { owner: 'web-1' }]) {
      expect(() => createProjectionRunner({ store, checkpoints: new MemoryCheckpointStore(), projection, lease })).not.toThrow();
    }
  });
});

describe('health of a copy standing by', () => {
  const standby = (overrides: Partial<ProjectionStatus> = {}): ProjectionStatus => ({
    name: 'p',
    state: 'standby',
    position: 10n,
    lag: { events: 0n, seconds: 0 },
    lastError: undefined,
    consecutiveFailures: 0,
    since: new Date(0),
    ...overrides,
  });
  const error = { name: 'Error', message: 'connect ECONNREFUSED', at: new Date(0), retried: true };

  it('is ready, with no reason given', () => {
    expect(assessHealth([standby()])).toMatchObject({ status: 'ready', reasons: [] });
  });

  it('is degraded while its attempts at the lease fail, and failing once they keep failing', () => {
    expect(assessHealth([standby({ consecutiveFailures: 2, lastError: error })])).toMatchObject({
      status: 'degraded',
      reasons: ['p: standing by, retrying (2 failures): connect ECONNREFUSED'],
    });
    expect(assessHealth([standby({ consecutiveFailures: 10, lastError: error })]).status).toBe('failing');
  });
});
