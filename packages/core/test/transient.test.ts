import { describe, expect, it } from 'vitest';
import { isTransient, ValidationError, WrongExpectedVersionError } from '@ordo/core';

const withCode = (code: string | number, message = 'failed') => Object.assign(new Error(message), { code });

describe('isTransient', () => {
  it.each([
    ['08006 connection failure', withCode('08006')],
    ['08001 cannot connect', withCode('08001')],
    ['40001 serialization failure', withCode('40001')],
    ['40P01 deadlock', withCode('40P01')],
    ['57P01 admin shutdown', withCode('57P01')],
    ['57P02 crash shutdown', withCode('57P02')],
    ['57P03 cannot connect now', withCode('57P03')],
    ['53300 too many connections', withCode('53300')],
    ['ECONNRESET', withCode('ECONNRESET')],
    ['ECONNREFUSED', withCode('ECONNREFUSED')],
    ['EPIPE', withCode('EPIPE')],
    ['ETIMEDOUT', withCode('ETIMEDOUT')],
    ['gRPC UNAVAILABLE', withCode(14)],
    ['gRPC DEADLINE_EXCEEDED', withCode(4)],
    ['store_unavailable', withCode('store_unavailable')],
    ['append_outcome_unknown', withCode('append_outcome_unknown')],
    ['a driver error without a code', new Error('Connection terminated unexpectedly')],
    ['a wrapper whose cause is transient', new Error('read failed', { cause: withCode('ECONNRESET') })],
  ])('is true for %s', (_, error) => {
    expect(isTransient(error)).toBe(true);
  });

  it.each([
    ['a plain error', new Error('boom')],
    ['23505 unique violation', withCode('23505')],
    ['42P01 undefined table', withCode('42P01')],
    ['57014 query cancelled', withCode('57014')],
    ['gRPC INVALID_ARGUMENT', withCode(3)],
    ['wrong_expected_version', withCode('wrong_expected_version')],
    ['a WrongExpectedVersionError', new WrongExpectedVersionError('s', 'no_stream', 0n)],
    ['a ValidationError', new ValidationError('x', [{ path: 'a', message: 'b' }])],
    ['a string', 'ECONNRESET'],
    ['null', null],
    ['undefined', undefined],
  ])('is false for %s', (_, error) => {
    expect(isTransient(error)).toBe(false);
  });

  it('stops following a cycle of causes', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(isTransient(a)).toBe(false);
  });
});
