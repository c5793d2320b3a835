import { isOrdoError, isStreamNotFoundError, StreamNotFoundError } from '@ordo/core';
import { describe, expect, it } from 'vitest';
import {
  CurrencyMismatchError,
  IdempotencyConflictError,
  InvalidTransitionError,
  isInvalidTransitionError,
  LifecycleDefinitionError,
  OrderNotFoundError,
  OrderNumberConflictError,
  OrderNumberTimeoutError,
  RefundWithoutPaymentError,
} from '../../src/index.js';

describe('order errors', () => {
  it('carry distinct stable codes', () => {
    const errors = [
      [new InvalidTransitionError('paid', 'pending', []), 'invalid_transition'],
      [new LifecycleDefinitionError('x'), 'lifecycle_definition'],
      [new OrderNotFoundError('o'), 'order_not_found'],
      [new IdempotencyConflictError('k', 'o'), 'idempotency_conflict'],
      [new RefundWithoutPaymentError('o'), 'refund_without_payment'],
      [new OrderNumberConflictError('o', 'A', 'B'), 'order_number_conflict'],
      [new CurrencyMismatchError('o', 'EUR', 'USD'), 'currency_mismatch'],
      [new OrderNumberTimeoutError('o', 10), 'order_number_timeout'],
    ] as const;
    for (const [error, code] of errors) {
      expect(error.code).toBe(code);
      expect(isOrdoError(error, code)).toBe(true);
      expect(isInvalidTransitionError(error)).toBe(code === 'invalid_transition');
    }
  });

  it('an order not found is also a stream not found', () => {
    const error = new OrderNotFoundError('o');
    expect(isStreamNotFoundError(error)).toBe(true);
    expect(error instanceof StreamNotFoundError).toBe(true);
  });
});
