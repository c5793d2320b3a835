import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assessHealth, backoffDelay, type ProjectionStatus } from '@ordo/core';

describe('backoffDelay', () => {
  it('property: stays between half the capped exponential step and the step, and never exceeds the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (failures, baseDelayMs, extra, r) => {
          const maxDelayMs = baseDelayMs + extra;
          const delay = backoffDelay(failures, { baseDelayMs, maxDelayMs }, () => r);
          const step = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(failures - 1, 30));
          expect(delay).toBeGreaterThanOrEqual(step / 2);
          expect(delay).toBeLessThanOrEqual(step);
          expect(delay).toBeLessThanOrEqual(maxDelayMs);
        },
      ),
    );
  });

  it('grows with each failure until the cap (at a fixed draw)', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 30_000 };
    const delays = [1, 2, 3, 4, 9, 10, 50].map((n) => backoffDelay(n, policy, () => 0.5));
    expect(delays).toEqual([75, 150, 300, 600, 19_200, 22_500, 22_500]);
  });
});

function status(overrides: Partial<ProjectionStatus>): ProjectionStatus {
  return {
    name: 'p',
    state: 'running',
    position: 10n,
    lag: { events: 0n, seconds: 0 },
    lastError: undefined,
    consecutiveFailures: 0,
    since: new Date(0),
    ...overrides,
  };
}

describe('assessHealth', () => {
  it('is ready when every runner runs live, and for no runners at all', () => {
    expect(assessHealth([status({ name: 'a' }), status({ name: 'b' })])).toMatchObject({ status: 'ready', reasons: [] });
    expect(assessHealth([]).status).toBe('ready');
  });

  it('is degraded while one catches up, retries a few times, or lags too long, and says which', () => {
    const error = { name: 'Error', message: 'connect ECONNREFUSED', at: new Date(0), retried: true };
    const h = assessHealth(
      [
        status({ name: 'a', state: 'catching-up', lag: { events: 40n, seconds: 3 } }),
        status({ name: 'b', state: 'retrying', consecutiveFailures: 2, lastError: error }),
        status({ name: 'c', lag: { events: 1n, seconds: 120 } }),
        status({ name: 'd' }),
      ],
      { maxLagSeconds: 60 },
    );
    expect(h.status).toBe('degraded');
    expect(h.reasons).toEqual([
      'a: catching up (40 events, 3 s behind)',
      'b: retrying (2 failures): connect ECONNREFUSED',
      'c: 120 s behind',
    ]);
  });

  it('is failing when one stopped on a poison event, was stopped, or keeps retrying, whatever the others do', () => {
    expect(assessHealth([status({ name: 'a', state: 'stopped-on-poison' }), status({ name: 'b', state: 'catching-up' })]).status).toBe('failing');
    expect(assessHealth([status({ state: 'catching-up' }), status({ state: 'stopped' })]).status).toBe('failing');
    expect(assessHealth([status({ state: 'retrying', consecutiveFailures: 3 })], { failingAfter: 3 }).status).toBe('failing');
    expect(assessHealth([status({ state: 'retrying', consecutiveFailures: 2 })], { failingAfter: 3 }).status).toBe('degraded');
  });
});
