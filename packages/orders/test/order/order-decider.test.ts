import { describe, expect, it } from 'vitest';
import { fold } from '@ordo/core';
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
import { AT, changeStatus, historyTo, LATER, ORDER_ID, paid, placeCommand, placed, statusChanged } from './fixtures.js';

const decider = createOrderDecider();
const spec = specification(decider);
const who = { orderId: ORDER_ID, actor: 'ops', at: LATER };
const command = <C extends OrderCommand>(c: Omit<C, 'orderId' | 'actor' | 'at'> & Partial<C>) => ({ ...who, ...c }) as OrderCommand;

describe('order decider: placing', () => {
  it('places an order, totalling its lines', () => {
    spec.given([]).when(placeCommand()).then([placed]);
  });

  it('keeps the prefix when one is given', () => {
    const [event] = decider.decide(placeCommand({ prefix: 'GAM' }), null);
    expect(event).toMatchObject({ type: 'OrderPlaced', data: { prefix: 'GAM', total: { amount: 2150, currency: 'EUR' } } });
  });

  it('placing the same order again is a no-op, whoever asks and whenever, in any key order', () => {
    spec.given([placed]).when(placeCommand({ actor: 'payment-callback', at: LATER })).thenNothing();
    const lines = (placed.data as Extract<OrderEvent, { type: 'OrderPlaced' }>['data']).lines;
    const reordered = placeCommand({
      customer: { email: 'ann@example.com', name: 'Ann' },
      lines: lines.map(({ sku, name, quantity, unitPrice }) => ({
        unitPrice: { currency: unitPrice.currency, amount: unitPrice.amount },
        quantity,
        name,
        sku,
      })),
    });
    spec.given([placed, statusChanged('pending', 'confirmed')]).when(reordered).thenNothing();
  });

  it.each<{ label: string; change: Partial<Extract<OrderCommand, { type: 'PlaceOrder' }>> }>([
    { label: 'other lines', change: { lines: [{ sku: 'PIZZA-M', name: 'Pizza Margherita', quantity: 3, unitPrice: { amount: 950, currency: 'EUR' } }] } },
    { label: 'another customer', change: { customer: { email: 'bob@example.com' } } },
    { label: 'another currency', change: { currency: 'USD' } },
    { label: 'a prefix', change: { prefix: 'GAM' } },
  ])('placing with the same key but $label throws IdempotencyConflictError', ({ change }) => {
    spec
      .given([placed])
      .when(placeCommand(change))
      .thenThrows(IdempotencyConflictError, (error) => {
        expect(error.idempotencyKey).toBe('cart-42');
        expect(error.orderId).toBe(ORDER_ID);
      });
  });

  it.each<OrderCommand['type']>(['ChangeStatus', 'CancelOrder', 'RecordPayment', 'StartSubmission', 'AssignOrderNumber'])(
    '%s on an order that was never placed throws OrderNotFoundError',
    (type) => {
      const c = {
        ChangeStatus: changeStatus('confirmed'),
        CancelOrder: command({ type: 'CancelOrder', reason: 'x' }),
        RecordPayment: command({ type: 'RecordPayment', paymentId: 'p', amount: { amount: 1, currency: 'EUR' } }),
        StartSubmission: command({ type: 'StartSubmission' }),
        AssignOrderNumber: command({ type: 'AssignOrderNumber', number: 'A-20260301-0001', prefix: 'A', day: '20260301' }),
      }[type as 'ChangeStatus']!;
      spec.given([]).when(c).thenThrows(OrderNotFoundError, (error) => expect(error.orderId).toBe(ORDER_ID));
    },
  );
});

describe('order decider: payments and refunds', () => {
  const pay = (paymentId: string, amount = 2150, currency = 'EUR') =>
    command({ type: 'RecordPayment', paymentId, amount: { amount, currency } });

  it('records a payment', () => {
    spec
      .given([placed])
      .when(pay('pay-1'))
      .then([
        {
          type: 'PaymentRecorded',
          data: { orderId: ORDER_ID, paymentId: 'pay-1', amount: { amount: 2150, currency: 'EUR' }, by: 'ops', at: LATER },
        },
      ]);
  });

  it('records a payment once: the same payment id again is a no-op, even with another amount', () => {
    spec.given([placed, paid('pay-1')]).when(pay('pay-1')).thenNothing();
    spec.given([placed, paid('pay-1')]).when(pay('pay-1', 10)).thenNothing();
  });

  it('adds up separate payments', () => {
    const state = fold(decider, [placed, paid('pay-1', 1000), paid('pay-2', 1150)]);
    expect(state).toMatchObject({ paid: 2150, payments: [{ paymentId: 'pay-1' }, { paymentId: 'pay-2' }] });
  });

  it('refuses a payment in another currency', () => {
    spec
      .given([placed])
      .when(pay('pay-1', 2150, 'USD'))
      .thenThrows(CurrencyMismatchError, (error) => expect([error.expected, error.actual]).toEqual(['EUR', 'USD']));
  });

  it('refuses a refund without a payment, and allows it once paid', () => {
    const unpaid = historyTo('delivered', { paid: false });
    spec.given(unpaid).when(changeStatus('refunded')).thenThrows(RefundWithoutPaymentError, (e) => expect(e.orderId).toBe(ORDER_ID));
    spec.given([...unpaid, paid()]).when(changeStatus('refunded')).then([
      { type: 'OrderStatusChanged', data: { orderId: ORDER_ID, from: 'delivered', to: 'refunded', by: 'admin', at: LATER } },
    ]);
    spec.given(historyTo('refunded')).when(changeStatus('refunded')).thenNothing();
  });
});

describe('order decider: order numbers', () => {
  const assign = (number: string) => command({ type: 'AssignOrderNumber', number, prefix: 'GAM', day: '20260301' });

  it('assigns a number once; the same number again is a no-op; another number is refused', () => {
    spec
      .given([placed])
      .when(assign('GAM-20260301-0001'))
      .then([{ type: 'OrderNumberAssigned', data: { orderId: ORDER_ID, number: 'GAM-20260301-0001', prefix: 'GAM', day: '20260301' } }]);
    const numbered: OrderEvent = {
      type: 'OrderNumberAssigned',
      data: { orderId: ORDER_ID, number: 'GAM-20260301-0001', prefix: 'GAM', day: '20260301' },
    };
    spec.given([placed, numbered]).when(assign('GAM-20260301-0001')).thenNothing();
    spec
      .given([placed, numbered])
      .when(assign('GAM-20260301-0002'))
      .thenThrows(OrderNumberConflictError, (error) => {
        expect(error.existing).toBe('GAM-20260301-0001');
        expect(error.requested).toBe('GAM-20260301-0002');
      });
    expect(fold(decider, [placed, numbered])?.number).toBe('GAM-20260301-0001');
  });
});

describe('order decider: status commands', () => {
  it('cancels with a reason, and cancelling again is a no-op', () => {
    spec
      .given([placed])
      .when(command({ type: 'CancelOrder', reason: 'customer called' }))
      .then([
        {
          type: 'OrderStatusChanged',
          data: { orderId: ORDER_ID, from: 'pending', to: 'cancelled', reason: 'customer called', by: 'ops', at: LATER },
        },
      ]);
    spec.given(historyTo('cancelled')).when(command({ type: 'CancelOrder', reason: 'again' })).thenNothing();
  });

  it('refuses to cancel an order that is out for delivery', () => {
    spec
      .given(historyTo('out_for_delivery'))
      .when(command({ type: 'CancelOrder', reason: 'too late' }))
      .thenThrows(InvalidTransitionError, (error) => {
        expect(error).toMatchObject({ from: 'out_for_delivery', to: 'cancelled', allowed: ['delivered'] });
      });
  });

  it('keeps the latest reason only', () => {
    const state = fold(decider, [
      placed,
      statusChanged('pending', 'confirmed', { reason: 'checked stock' }),
      statusChanged('confirmed', 'preparing'),
    ]);
    expect(state?.status).toBe('preparing');
    expect(state).not.toHaveProperty('reason');
    expect(fold(decider, [placed, statusChanged('pending', 'confirmed', { reason: 'checked stock' })])?.reason).toBe('checked stock');
    expect(state?.updatedAt).toBe(AT);
  });
});

describe('order decider: fulfillment', () => {
  const start = command({ type: 'StartSubmission' });
  const provider = (providerRequestId: string) => command({ type: 'RecordProviderRequest', providerRequestId });
  const submitting = (attempt: number, from = 'pending') => statusChanged(from, 'submitting', { attempt });
  const submitted = (id: string) => statusChanged('submitting', 'submitted', { providerRequestId: id });
  const failed = (from: string) => statusChanged(from, 'failed', { reason: 'provider down' });

  it('starts submission as attempt 1; starting again while submitting is a no-op', () => {
    spec.given([placed]).when(start).then([
      { type: 'OrderStatusChanged', data: { orderId: ORDER_ID, from: 'pending', to: 'submitting', by: 'ops', at: LATER, attempt: 1 } },
    ]);
    spec.given([placed, submitting(1)]).when(start).thenNothing();
  });

  it('records the provider request once', () => {
    spec.given([placed, submitting(1)]).when(provider('req-1')).then([
      {
        type: 'OrderStatusChanged',
        data: { orderId: ORDER_ID, from: 'submitting', to: 'submitted', by: 'ops', at: LATER, providerRequestId: 'req-1' },
      },
    ]);
    spec.given([placed, submitting(1), submitted('req-1')]).when(provider('req-1')).thenNothing();
    const processing = statusChanged('submitted', 'processing');
    spec.given([placed, submitting(1), submitted('req-1'), processing]).when(provider('req-1')).thenNothing();
    expect(fold(decider, [placed, submitting(1), submitted('req-1')])).toMatchObject({
      status: 'submitted',
      providerRequestId: 'req-1',
      submissionAttempts: 1,
    });
  });

  it('goes submitted → processing → completed, each step once', () => {
    const history = [placed, submitting(1), submitted('req-1')];
    spec.given(history).when(command({ type: 'MarkProcessing' })).then([
      { type: 'OrderStatusChanged', data: { orderId: ORDER_ID, from: 'submitted', to: 'processing', by: 'ops', at: LATER } },
    ]);
    const processing = [...history, statusChanged('submitted', 'processing')];
    spec.given(processing).when(command({ type: 'MarkProcessing' })).thenNothing();
    spec.given(processing).when(command({ type: 'CompleteFulfillment' })).then([
      { type: 'OrderStatusChanged', data: { orderId: ORDER_ID, from: 'processing', to: 'completed', by: 'ops', at: LATER } },
    ]);
    spec.given([...processing, statusChanged('processing', 'completed')]).when(command({ type: 'CompleteFulfillment' })).thenNothing();
  });

  it('retries after a failure as the next attempt', () => {
    const history = [placed, submitting(1), submitted('req-1'), failed('submitted')];
    spec.given(history).when(start).then([
      { type: 'OrderStatusChanged', data: { orderId: ORDER_ID, from: 'failed', to: 'submitting', by: 'ops', at: LATER, attempt: 2 } },
    ]);
    // The provider answers the new attempt with a request id it used before: the order is submitted again.
    spec.given([...history, submitting(2, 'failed')]).when(provider('req-1')).then([
      {
        type: 'OrderStatusChanged',
        data: { orderId: ORDER_ID, from: 'submitting', to: 'submitted', by: 'ops', at: LATER, providerRequestId: 'req-1' },
      },
    ]);
  });

  it('fails with a reason; a timeout for an attempt that moved on is a no-op', () => {
    spec.given([placed, submitting(1)]).when(command({ type: 'FailFulfillment', reason: 'timeout' })).then([
      { type: 'OrderStatusChanged', data: { orderId: ORDER_ID, from: 'submitting', to: 'failed', reason: 'timeout', by: 'ops', at: LATER } },
    ]);
    spec.given([placed, submitting(1), submitted('req-1')]).when(command({ type: 'FailFulfillment', reason: 'timeout', attempt: 1 })).thenNothing();
    spec.given([placed, submitting(1)]).when(command({ type: 'FailFulfillment', reason: 'timeout', attempt: 2 })).thenNothing();
  });

  it('refuses fulfillment steps out of order', () => {
    spec.given([placed]).when(command({ type: 'MarkProcessing' })).thenThrows(InvalidTransitionError);
    spec.given([placed]).when(provider('req-1')).thenThrows(InvalidTransitionError, (e) => expect(e.to).toBe('submitted'));
    spec.given(historyTo('completed')).when(start).thenThrows(InvalidTransitionError, (e) => expect(e.allowed).toEqual(['refunded']));
  });
});
