import type { OrderEvent } from './events.js';
import type { Customer, Money, OrderLine } from './values.js';

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

/** The state of a stream with no events. */
export const initialOrderState: OrderState = null;

/**
 * The fold of an order stream, for a lifecycle whose placed orders start in `initialStatus`.
 * Events before `OrderPlaced` cannot exist (every command but placing needs a placed order), so
 * they leave the state as it is.
 */
export function evolveOrder(initialStatus: string): (state: OrderState, event: OrderEvent) => OrderState {
  return (state, event) => {
    if (event.type === 'OrderPlaced') return placedOrder(event.data, initialStatus);
    if (state === null) return state;
    switch (event.type) {
      case 'OrderStatusChanged': {
        const e = event.data;
        const next: Order = { ...state, status: e.to, updatedAt: e.at };
        // Only the latest change's reason is the order's reason.
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
  };
}

function placedOrder(e: Extract<OrderEvent, { type: 'OrderPlaced' }>['data'], status: string): Order {
  return {
    id: e.orderId,
    status,
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
