import { OrdoError, StreamNotFoundError } from '@ordo/core';
import { orderStream } from './stream.js';

/** A command named an order that has not been placed. */
export class OrderNotFoundError extends StreamNotFoundError {
  static override readonly code = 'order_not_found';
  override name = 'OrderNotFoundError';
  constructor(readonly orderId: string) {
    super(orderStream(orderId), `Order ${orderId} does not exist`);
  }
}

/** The idempotency key was used before for an order with different contents. */
export class IdempotencyConflictError extends OrdoError {
  static override readonly code = 'idempotency_conflict';
  override name = 'IdempotencyConflictError';
  constructor(
    readonly idempotencyKey: string,
    readonly orderId: string,
  ) {
    super(`Idempotency key "${idempotencyKey}" already placed order ${orderId} with different contents`);
  }
}

/** A refund was asked for an order with no recorded payment. */
export class RefundWithoutPaymentError extends OrdoError {
  static override readonly code = 'refund_without_payment';
  override name = 'RefundWithoutPaymentError';
  constructor(readonly orderId: string) {
    super(`Order ${orderId} has no recorded payment to refund`);
  }
}

/** The order already has a different number; numbers never change. */
export class OrderNumberConflictError extends OrdoError {
  static override readonly code = 'order_number_conflict';
  override name = 'OrderNumberConflictError';
  constructor(
    readonly orderId: string,
    readonly existing: string,
    readonly requested: string,
  ) {
    super(`Order ${orderId} already has number ${existing}; refusing ${requested}`);
  }
}

/** A payment in another currency than the order's. */
export class CurrencyMismatchError extends OrdoError {
  static override readonly code = 'currency_mismatch';
  override name = 'CurrencyMismatchError';
  constructor(
    readonly orderId: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`Order ${orderId} is in ${expected}; a payment in ${actual} cannot be recorded`);
  }
}
