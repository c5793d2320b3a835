import { describe, expect, it } from 'vitest';
import {
  createOrderDecider,
  CurrencyMismatchError,
  IdempotencyConflictError,
  InvalidTransitionError,
  OrderNotFoundError,
  OrderNumberConflictError,
  RefundWithoutPaymentError,
  type OrderCommand,
  type OrderEvent,
} from '@ordo/orders';
import { specification } from '@ordo/core/testing';
import { changeStatus, historyTo, LATER, ORDER_ID, paid, placeCommand, placed, statusChanged } from './fixtures.js';

/**
 * One block per decision in `decide.ts`: given the events, when the command, then the events, or
 * nothing when the order already satisfies it, or the typed refusal.
 */
const spec = specification(createOrderDecider());
const ask = (c: Record<string, unknown> & { type: OrderCommand['type'] }) => ({ orderId: ORDER_ID, actor: 'ops', at: LATER, ...c }) as OrderCommand;
const moved = (from: string, to: string, extra: Record<string, unknown> = {}): OrderEvent => ({
  type: 'OrderStatusChanged',
  data: { orderId: ORDER_ID, from, to, by: 'ops', at: LATER, ...extra },
});
const submitting = (attempt: number, from = 'pending') => statusChanged(from, 'submitting', { attempt });
const submitted = (requestId: string) => statusChanged('submitting', 'submitted', { providerRequestId: requestId });

describe('placeOrder', () => {
  it('given nothing, places the order with its total', () => spec.given([]).when(placeCommand()).then([placed]));
  it('given the same order, is already satisfied', () => spec.given([placed]).when(placeCommand({ actor: 'again' })).thenNothing());
  it('given another order under the key, is refused', () =>
    spec.given([placed]).when(placeCommand({ currency: 'USD' })).thenThrows(IdempotencyConflictError));
});

describe('changeStatus', () => {
  it('moves the order', () => spec.given([placed]).when(changeStatus('confirmed')).then([statusChanged('pending', 'confirmed', { at: LATER })]));
  it('is satisfied when the order is already there', () => spec.given(historyTo('confirmed')).when(changeStatus('confirmed')).thenNothing());
  it('refuses a move the lifecycle forbids', () => spec.given([placed]).when(changeStatus('delivered')).thenThrows(InvalidTransitionError));
  it('refuses a refund without a payment', () =>
    spec.given(historyTo('delivered', { paid: false })).when(changeStatus('refunded')).thenThrows(RefundWithoutPaymentError));
  it('needs a placed order', () => spec.given([]).when(changeStatus('confirmed')).thenThrows(OrderNotFoundError));
});

describe('cancelOrder', () => {
  const cancel = ask({ type: 'CancelOrder', reason: 'customer called' });
  it('cancels with the reason', () => spec.given([placed]).when(cancel).then([moved('pending', 'cancelled', { reason: 'customer called' })]));
  it('is satisfied when already cancelled', () => spec.given(historyTo('cancelled')).when(cancel).thenNothing());
  it('refuses once the order is out for delivery', () => spec.given(historyTo('out_for_delivery')).when(cancel).thenThrows(InvalidTransitionError));
});

describe('recordPayment', () => {
  const pay = (paymentId: string, currency = 'EUR') => ask({ type: 'RecordPayment', paymentId, amount: { amount: 2150, currency } });
  it('records a payment', () =>
    spec.given([placed]).when(pay('pay-1')).then([
      { type: 'PaymentRecorded', data: { orderId: ORDER_ID, paymentId: 'pay-1', amount: { amount: 2150, currency: 'EUR' }, by: 'ops', at: LATER } },
    ]));
  it('is satisfied when the payment id is known', () => spec.given([placed, paid('pay-1')]).when(pay('pay-1')).thenNothing());
  it('refuses another currency', () => spec.given([placed]).when(pay('pay-1', 'USD')).thenThrows(CurrencyMismatchError));
});

describe('startSubmission', () => {
  const start = ask({ type: 'StartSubmission' });
  it('starts attempt n + 1', () => spec.given([placed]).when(start).then([moved('pending', 'submitting', { attempt: 1 })]));
  it('is satisfied while submitting', () => spec.given([placed, submitting(1)]).when(start).thenNothing());
  it('refuses a finished order', () => spec.given(historyTo('completed')).when(start).thenThrows(InvalidTransitionError));
});

describe('recordProviderRequest', () => {
  const accepted = ask({ type: 'RecordProviderRequest', providerRequestId: 'req-1' });
  it('records the request', () =>
    spec.given([placed, submitting(1)]).when(accepted).then([moved('submitting', 'submitted', { providerRequestId: 'req-1' })]));
  it('is satisfied once that request is recorded, also later on', () => {
    spec.given([placed, submitting(1), submitted('req-1')]).when(accepted).thenNothing();
    spec.given([placed, submitting(1), submitted('req-1'), statusChanged('submitted', 'processing')]).when(accepted).thenNothing();
  });
  it('refuses an order never submitted', () => spec.given([placed]).when(accepted).thenThrows(InvalidTransitionError));
});

describe('markProcessing', () => {
  const processing = ask({ type: 'MarkProcessing' });
  const history = [placed, submitting(1), submitted('req-1')];
  it('marks the order processing', () => spec.given(history).when(processing).then([moved('submitted', 'processing')]));
  it('is satisfied when processing', () => spec.given([...history, statusChanged('submitted', 'processing')]).when(processing).thenNothing());
  it('refuses a pending order', () => spec.given([placed]).when(processing).thenThrows(InvalidTransitionError));
});

describe('completeFulfillment', () => {
  const complete = ask({ type: 'CompleteFulfillment' });
  it('completes a submitted order', () =>
    spec.given([placed, submitting(1), submitted('req-1')]).when(complete).then([moved('submitted', 'completed')]));
  it('is satisfied when completed', () => spec.given(historyTo('completed')).when(complete).thenNothing());
  it('refuses a pending order', () => spec.given([placed]).when(complete).thenThrows(InvalidTransitionError));
});

describe('failFulfillment', () => {
  const fail = (attempt?: number) => ask({ type: 'FailFulfillment', reason: 'timeout', ...(attempt !== undefined && { attempt }) });
  it('fails the submission', () => spec.given([placed, submitting(1)]).when(fail(1)).then([moved('submitting', 'failed', { reason: 'timeout' })]));
  it('is satisfied when the named attempt has moved on, or when already failed', () => {
    spec.given([placed, submitting(1), submitted('req-1')]).when(fail(1)).thenNothing();
    spec.given([placed, submitting(1)]).when(fail(2)).thenNothing();
    spec.given([placed, submitting(1), statusChanged('submitting', 'failed')]).when(fail()).thenNothing();
  });
  it('refuses a pending order', () => spec.given([placed]).when(fail()).thenThrows(InvalidTransitionError));
});

describe('retrySubmission', () => {
  const retry = (attempt: number) => ask({ type: 'RetrySubmission', attempt, reason: 'timeout', retryReason: 'retry 2 of 3' });
  it('fails the attempt and starts the next in one decision', () =>
    spec.given([placed, submitting(1)]).when(retry(1)).then([
      moved('submitting', 'failed', { reason: 'timeout' }),
      moved('failed', 'submitting', { reason: 'retry 2 of 3', attempt: 2 }),
    ]));
  it('is satisfied when that attempt is no longer running', () => {
    spec.given([placed, submitting(1), submitted('req-1')]).when(retry(1)).thenNothing();
    spec.given([placed, submitting(1), statusChanged('submitting', 'failed'), submitting(2, 'failed')]).when(retry(1)).thenNothing();
  });
  it('needs a placed order', () => spec.given([]).when(retry(1)).thenThrows(OrderNotFoundError));
});

describe('assignOrderNumber', () => {
  const assign = (number: string) => ask({ type: 'AssignOrderNumber', number, prefix: 'GAM', day: '20260301' });
  const numbered: OrderEvent = { type: 'OrderNumberAssigned', data: { orderId: ORDER_ID, number: 'GAM-20260301-0001', prefix: 'GAM', day: '20260301' } };
  it('assigns the number', () => spec.given([placed]).when(assign('GAM-20260301-0001')).then([numbered]));
  it('is satisfied by the same number', () => spec.given([placed, numbered]).when(assign('GAM-20260301-0001')).thenNothing());
  it('refuses another number', () => spec.given([placed, numbered]).when(assign('GAM-20260301-0002')).thenThrows(OrderNumberConflictError));
});

describe('the decisions are pure', () => {
  it('decide neither changes the state it is given nor depends on anything but its arguments', () => {
    const decider = createOrderDecider();
    const state = [placed, submitting(1)].reduce(decider.evolve, decider.initialState);
    const before = JSON.stringify(state);
    const first = decider.decide(ask({ type: 'RetrySubmission', attempt: 1, reason: 'timeout' }), state);
    expect(JSON.stringify(state)).toBe(before);
    expect(decider.decide(ask({ type: 'RetrySubmission', attempt: 1, reason: 'timeout' }), state)).toEqual(first);
  });
});
