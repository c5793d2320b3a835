import {
  type Decider,
  OrdoError,
  StreamNotFoundError,
} from '@ordo/core';
import { defaultLifecycle, type Lifecycle } from './lifecycle.js';
import type { Customer, Money, OrderCommand, OrderEvent, OrderLine } from './schemas.js';

/** An order as its events make it. */
export interface Order {
  id: string;
  status: string;
  idempotencyKey: string;
  customer: Customer;
  lines: OrderLine[];
  total: Money;
  prefix?: string;
  placedAt: string;
  /** Set by the order-numbers projection, shortly after placement. */
  number?: string;
  payments: { paymentId: string; amount: Money }[];
  /** Sum of recorded payments, in the order's currency. */
  paid: number;
  /** How many times fulfillment submission has started. */
  submissionAttempts: number;
  providerRequestId?: string;
  /** Reason given with the latest status change, if any. */
  reason?: string;
  updatedAt: string;
}

/** `null` until the order is placed. */
export type OrderState = Order | null;

/** The stream that holds an order's events. */
export function orderStream(orderId: string): string {
  return `order-${orderId}`;
}

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

/**
 * The order state machine over a lifecycle. Commands already satisfied decide `[]` (asking for the
 * current status, recording a known payment, placing the same order again); commands the lifecycle
 * forbids throw {@link InvalidTransitionError}.
 */
export function createOrderDecider(lifecycle: Lifecycle<string> = defaultLifecycle): Decider<OrderCommand, OrderEvent, OrderState> {
  function statusChange(
    order: Order,
    to: string,
    command: { actor: string; at: string; reason?: string | undefined },
    extra: { attempt?: number; providerRequestId?: string } = {},
  ): OrderEvent[] {
    if (order.status === to) return [];
    lifecycle.assertTransition(order.status, to);
    return [
      {
        type: 'OrderStatusChanged',
        data: {
          orderId: order.id,
          from: order.status,
          to,
          ...(command.reason !== undefined && { reason: command.reason }),
          by: command.actor,
          at: command.at,
          ...extra,
        },
      },
    ];
  }

  function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
    if (command.type === 'PlaceOrder') {
      if (state !== null) {
        const same =
          canonical({ c: state.customer, l: state.lines, p: state.prefix ?? null, cur: state.total.currency }) ===
          canonical({ c: command.customer, l: command.lines, p: command.prefix ?? null, cur: command.currency });
        if (same) return [];
        throw new IdempotencyConflictError(command.idempotencyKey, state.id);
      }
      const amount = command.lines.reduce((sum, line) => sum + line.quantity * line.unitPrice.amount, 0);
      return [
        {
          type: 'OrderPlaced',
          data: {
            orderId: command.orderId,
            idempotencyKey: command.idempotencyKey,
            customer: command.customer,
            lines: command.lines,
            total: { amount, currency: command.currency },
            ...(command.prefix !== undefined && { prefix: command.prefix }),
            placedAt: command.at,
            placedBy: command.actor,
          },
        },
      ];
    }
    if (state === null) throw new OrderNotFoundError(command.orderId);
    const order = state;
    switch (command.type) {
      case 'ChangeStatus':
        if (command.to === 'refunded' && order.status !== 'refunded' && order.paid === 0) {
          throw new RefundWithoutPaymentError(order.id);
        }
        return statusChange(order, command.to, command);
      case 'CancelOrder':
        return statusChange(order, 'cancelled', command);
      case 'StartSubmission':
        return statusChange(order, 'submitting', command, { attempt: order.submissionAttempts + 1 });
      case 'RecordProviderRequest':
        if (order.providerRequestId === command.providerRequestId && order.status !== 'submitting') return [];
        return statusChange(order, 'submitted', command, { providerRequestId: command.providerRequestId });
      case 'MarkProcessing':
        return statusChange(order, 'processing', command);
      case 'CompleteFulfillment':
        return statusChange(order, 'completed', command);
      case 'FailFulfillment':
        // A timeout names its attempt: if that submission has moved on meanwhile, there is nothing to fail.
        if (command.attempt !== undefined && (order.status !== 'submitting' || order.submissionAttempts !== command.attempt)) {
          return [];
        }
        return statusChange(order, 'failed', command);
      case 'RetrySubmission': {
        // The failed submission and the next one are one append: no crash can leave the order
        // `failed` with retries left and nobody to retry it.
        if (order.status !== 'submitting' || order.submissionAttempts !== command.attempt) return [];
        const failed = statusChange(order, 'failed', command);
        const next = failed.reduce<OrderState>(evolve, order)!;
        const retry = { actor: command.actor, at: command.at, reason: command.retryReason };
        return [...failed, ...statusChange(next, 'submitting', retry, { attempt: command.attempt + 1 })];
      }
      case 'RecordPayment':
        if (order.payments.some((p) => p.paymentId === command.paymentId)) return [];
        if (command.amount.currency !== order.total.currency) {
          throw new CurrencyMismatchError(order.id, order.total.currency, command.amount.currency);
        }
        return [
          {
            type: 'PaymentRecorded',
            data: { orderId: order.id, paymentId: command.paymentId, amount: command.amount, by: command.actor, at: command.at },
          },
        ];
      case 'AssignOrderNumber':
        if (order.number === command.number) return [];
        if (order.number !== undefined) throw new OrderNumberConflictError(order.id, order.number, command.number);
        return [
          {
            type: 'OrderNumberAssigned',
            data: { orderId: order.id, number: command.number, prefix: command.prefix, day: command.day },
          },
        ];
    }
  }

  function evolve(state: OrderState, event: OrderEvent): OrderState {
    if (event.type === 'OrderPlaced') {
      const e = event.data;
      return {
        id: e.orderId,
        status: lifecycle.initial,
        idempotencyKey: e.idempotencyKey,
        customer: e.customer,
        lines: e.lines,
        total: e.total,
        ...(e.prefix !== undefined && { prefix: e.prefix }),
        placedAt: e.placedAt,
        payments: [],
        paid: 0,
        submissionAttempts: 0,
        updatedAt: e.placedAt,
      };
    }
    if (state === null) return state;
    switch (event.type) {
      case 'OrderStatusChanged': {
        const e = event.data;
        const next: Order = { ...state, status: e.to, updatedAt: e.at };
        if (e.reason !== undefined) next.reason = e.reason;
        else delete next.reason;
        if (e.attempt !== undefined) next.submissionAttempts = e.attempt;
        if (e.providerRequestId !== undefined) next.providerRequestId = e.providerRequestId;
        return next;
      }
      case 'PaymentRecorded':
        return {
          ...state,
          payments: [...state.payments, { paymentId: event.data.paymentId, amount: event.data.amount }],
          paid: state.paid + event.data.amount.amount,
          updatedAt: event.data.at,
        };
      case 'OrderNumberAssigned':
        return { ...state, number: event.data.number };
    }
  }

  return { initialState: null, decide, evolve };
}

/** JSON with sorted keys, so two equal values compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
