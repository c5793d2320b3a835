import type { Decider } from '@ordo/core';
import type { OrderCommand, OrderCommandOf } from './commands.js';
import {
  CurrencyMismatchError,
  IdempotencyConflictError,
  OrderNotFoundError,
  OrderNumberConflictError,
  RefundWithoutPaymentError,
} from './errors.js';
import type { OrderEvent } from './events.js';
import { evolveOrder, initialOrderState, type Order, type OrderState } from './fold.js';
import { defaultLifecycle, type Lifecycle } from './lifecycle.js';

/**
 * One small decision per command. Each returns the events the command produces, `[]` when the
 * order already satisfies it (nothing to write, no error), and throws a typed error when it is not
 * allowed. Decisions on a placed order get the order and the lifecycle that rules its statuses.
 */
type Decision<T extends OrderCommand['type']> = (command: OrderCommandOf<T>, order: Order, lifecycle: Lifecycle<string>) => OrderEvent[];

/** Who asked, when and why: what every status change records. */
type Asked = { actor: string; at: string; reason?: string | undefined };

/** The order moves to `to`; already there is `[]`; a move the lifecycle forbids throws `InvalidTransitionError`. */
export function moveTo(
  order: Order,
  to: string,
  lifecycle: Lifecycle<string>,
  asked: Asked,
  extra: { attempt?: number; providerRequestId?: string } = {},
): OrderEvent[] {
  if (order.status === to) return [];
  lifecycle.assertTransition(order.status, to);
  const { actor: by, at, reason } = asked;
  return [{ type: 'OrderStatusChanged', data: { orderId: order.id, from: order.status, to, ...(reason !== undefined && { reason }), by, at, ...extra } }];
}

/** Places the order; the same contents again are `[]`, other contents under the key are refused. */
export function placeOrder(command: OrderCommandOf<'PlaceOrder'>, state: OrderState): OrderEvent[] {
  if (state !== null) {
    if (sameContents(state, command)) return [];
    throw new IdempotencyConflictError(command.idempotencyKey, state.id);
  }
  const amount = command.lines.reduce((sum, line) => sum + line.quantity * line.unitPrice.amount, 0);
  const { orderId, idempotencyKey, customer, lines, currency, prefix, at, actor } = command;
  return [
    {
      type: 'OrderPlaced',
      data: { orderId, idempotencyKey, customer, lines, total: { amount, currency }, ...(prefix !== undefined && { prefix }), placedAt: at, placedBy: actor },
    },
  ];
}

/** Any move the lifecycle allows; a refund needs a recorded payment. */
export const changeStatus: Decision<'ChangeStatus'> = (command, order, lifecycle) => {
  if (command.to === 'refunded' && order.status !== 'refunded' && order.paid === 0) throw new RefundWithoutPaymentError(order.id);
  return moveTo(order, command.to, lifecycle, command);
};

/** Cancels with a reason, where the lifecycle allows it. */
export const cancelOrder: Decision<'CancelOrder'> = (command, order, lifecycle) => moveTo(order, 'cancelled', lifecycle, command);

/** Records a payment once per payment id, in the order's currency. */
export const recordPayment: Decision<'RecordPayment'> = (command, order) => {
  if (order.payments.some((p) => p.paymentId === command.paymentId)) return [];
  if (command.amount.currency !== order.total.currency) {
    throw new CurrencyMismatchError(order.id, order.total.currency, command.amount.currency);
  }
  const { paymentId, amount, actor: by, at } = command;
  return [{ type: 'PaymentRecorded', data: { orderId: order.id, paymentId, amount, by, at } }];
};

/** Fulfillment starts submission attempt n + 1. */
export const startSubmission: Decision<'StartSubmission'> = (command, order, lifecycle) =>
  moveTo(order, 'submitting', lifecycle, command, { attempt: order.submissionAttempts + 1 });

/** The provider accepted the submission; the same request id again, once submitted, is `[]`. */
export const recordProviderRequest: Decision<'RecordProviderRequest'> = (command, order, lifecycle) => {
  if (order.providerRequestId === command.providerRequestId && order.status !== 'submitting') return [];
  return moveTo(order, 'submitted', lifecycle, command, { providerRequestId: command.providerRequestId });
};

/** The provider reports it is working on the order. */
export const markProcessing: Decision<'MarkProcessing'> = (command, order, lifecycle) => moveTo(order, 'processing', lifecycle, command);

/** The provider (or an operator) completed the order. */
export const completeFulfillment: Decision<'CompleteFulfillment'> = (command, order, lifecycle) =>
  moveTo(order, 'completed', lifecycle, command);

/** Fails fulfillment; a timeout names its attempt, and if that submission has moved on there is nothing to fail. */
export const failFulfillment: Decision<'FailFulfillment'> = (command, order, lifecycle) => {
  if (command.attempt !== undefined && !stillSubmitting(order, command.attempt)) return [];
  return moveTo(order, 'failed', lifecycle, command);
};

/**
 * Submission `attempt` failed and the next one starts, in one append: no crash can leave the order
 * `failed` with retries left and nobody to retry it. `[]` unless that submission is still running.
 */
export const retrySubmission: Decision<'RetrySubmission'> = (command, order, lifecycle) => {
  if (!stillSubmitting(order, command.attempt)) return [];
  const failed = moveTo(order, 'failed', lifecycle, command);
  const next = failed.reduce<OrderState>(evolveOrder(lifecycle.initial), order)!;
  const retry = { actor: command.actor, at: command.at, reason: command.retryReason };
  return [...failed, ...moveTo(next, 'submitting', lifecycle, retry, { attempt: command.attempt + 1 })];
};

/** Records the order's number; the same number again is `[]`; numbers never change. */
export const assignOrderNumber: Decision<'AssignOrderNumber'> = (command, order) => {
  if (order.number === command.number) return [];
  if (order.number !== undefined) throw new OrderNumberConflictError(order.id, order.number, command.number);
  const { number, prefix, day } = command;
  return [{ type: 'OrderNumberAssigned', data: { orderId: order.id, number, prefix, day } }];
};

/**
 * The order decider over a lifecycle: each command goes to its decision; every command but placing
 * needs a placed order (else `OrderNotFoundError`).
 */
export function createOrderDecider(lifecycle: Lifecycle<string> = defaultLifecycle): Decider<OrderCommand, OrderEvent, OrderState> {
  function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
    if (command.type === 'PlaceOrder') return placeOrder(command, state);
    if (state === null) throw new OrderNotFoundError(command.orderId);
    switch (command.type) {
      case 'ChangeStatus': return changeStatus(command, state, lifecycle);
      case 'CancelOrder': return cancelOrder(command, state, lifecycle);
      case 'RecordPayment': return recordPayment(command, state, lifecycle);
      case 'StartSubmission': return startSubmission(command, state, lifecycle);
      case 'RecordProviderRequest': return recordProviderRequest(command, state, lifecycle);
      case 'MarkProcessing': return markProcessing(command, state, lifecycle);
      case 'CompleteFulfillment': return completeFulfillment(command, state, lifecycle);
      case 'FailFulfillment': return failFulfillment(command, state, lifecycle);
      case 'RetrySubmission': return retrySubmission(command, state, lifecycle);
      case 'AssignOrderNumber': return assignOrderNumber(command, state, lifecycle);
    }
  }
  return { initialState: initialOrderState, decide, evolve: evolveOrder(lifecycle.initial) };
}

function stillSubmitting(order: Order, attempt: number): boolean {
  return order.status === 'submitting' && order.submissionAttempts === attempt;
}

/** Whether a placed order has the contents `command` asks for, whoever asks and whenever. */
function sameContents(order: Order, command: OrderCommandOf<'PlaceOrder'>): boolean {
  return (
    canonical({ c: order.customer, l: order.lines, p: order.prefix ?? null, cur: order.total.currency }) ===
    canonical({ c: command.customer, l: command.lines, p: command.prefix ?? null, cur: command.currency })
  );
}

/** JSON with sorted keys, so two equal values compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
