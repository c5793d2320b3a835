import { describe, expect, it } from 'vitest';
import { ValidationError, WrongExpectedVersionError } from '@ordo/core';
import { IdempotencyConflictError, InvalidTransitionError } from '@ordo/orders';
import { problemFor } from './problem.js';

/** An error as another copy of the package (or a newer version) would throw it: same code, no shared class. */
function foreign(name: string, code: string): Error {
  return Object.assign(new Error('connection refused by 10.0.0.5:5432'), { name, code });
}

describe('problem details from Ordo errors', () => {
  it('maps each typed error to its status with the facts a client needs', () => {
    expect(problemFor(new ValidationError('order', [{ path: 'lines.0.quantity', message: 'too small' }]))).toMatchObject({
      status: 400,
      body: { errors: [{ path: 'lines.0.quantity', message: 'too small' }] },
    });
    expect(problemFor(new InvalidTransitionError('pending', 'delivered', ['confirmed']))).toMatchObject({
      status: 409,
      body: { from: 'pending', to: 'delivered', allowed: ['confirmed'] },
    });
    expect(problemFor(new IdempotencyConflictError('k', 'o')).status).toBe(422);
  });

  it('a version conflict is 412 for a request with If-Match, 409 once the handler gave up retrying', () => {
    const stale = new WrongExpectedVersionError('order-x', 2n, 3n);
    expect(problemFor(stale, { conditional: true })).toMatchObject({ status: 412, body: { currentVersion: '3' }, headers: { etag: '"3"' } });
    expect(problemFor(new WrongExpectedVersionError('order-x', 2n, 3n, 25), { conditional: true }).status).toBe(409);
    expect(problemFor(new WrongExpectedVersionError('order-x', 2n, 3n, 25)).status).toBe(409);
  });

  it('recognises errors by code as well as by name, and says when to retry a store outage', () => {
    for (const error of [foreign('StoreUnavailableError', 'store_unavailable'), foreign('SomethingElse', 'store_unavailable'), foreign('AppendOutcomeUnknownError', 'append_outcome_unknown')]) {
      const problem = problemFor(error, { retryAfterSeconds: 2 });
      expect(problem.status).toBe(503);
      expect(problem.headers['retry-after']).toBe('2');
      expect(JSON.stringify(problem.body)).not.toContain('10.0.0.5');
    }
    expect(problemFor(foreign('X', 'invalid_transition')).status).toBe(409);
  });

  it('turns anything unknown into a bare 500 that leaks nothing', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'secret') at /srv/app/x.ts:10");
    for (const thrown of [bug, 'a string', null, { statusCode: 500, message: 'pool exhausted' }]) {
      const problem = problemFor(thrown);
      expect(problem.status).toBe(500);
      expect(JSON.stringify(problem.body)).not.toMatch(/secret|srv|pool|string/);
    }
  });
});
