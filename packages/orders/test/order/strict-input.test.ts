import { describe, expect, it } from 'vitest';
import { MemoryEventStore, parseOrThrow, ValidationError } from '@ordo/core';
import { createOrderService, orderCommandSchema, type OrderService } from '@ordo/orders';
import { AT, ORDER_ID, placeInput } from './fixtures.js';

const MAX = Number.MAX_SAFE_INTEGER;

async function setup() {
  const store = new MemoryEventStore();
  const orders = createOrderService({ store, clock: () => new Date(AT) });
  const { orderId } = await orders.placeOrder(placeInput({ idempotencyKey: 'placed-before' }));
  return { store, orders, orderId, head: await store.headPosition() };
}

/** The ValidationError `act` rejects with, after checking that nothing was written. */
async function refusal(act: (orders: OrderService, orderId: string) => Promise<unknown>): Promise<ValidationError> {
  const { store, orders, orderId, head } = await setup();
  const error = await act(orders, orderId).then(
    () => expect.fail('expected a ValidationError'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  expect(await store.headPosition()).toBe(head);
  return error as ValidationError;
}

const paths = (error: ValidationError) => error.issues.map((issue) => issue.path);

describe('strict input: unknown keys are refused, naming the key', () => {
  it.each<[string, string, (orders: OrderService, orderId: string) => Promise<unknown>]>([
    ['a misspelt prefix', 'prefx', (o) => o.placeOrder({ ...placeInput(), prefx: 'GAM' } as never)],
    ['an unknown key in the customer', 'customer.nmae', (o) => o.placeOrder(placeInput({ customer: { email: 'a@example.com', nmae: 'A' } as never }))],
    ['an unknown key in a line', 'lines.0.discount', (o) => o.placeOrder(placeInput({ lines: [{ ...placeInput().lines[0]!, discount: 5 } as never] }))],
    ['an unknown key in a unit price', 'lines.0.unitPrice.cents', (o) =>
      o.placeOrder(placeInput({ lines: [{ ...placeInput().lines[0]!, unitPrice: { amount: 1, currency: 'EUR', cents: 100 } as never }] }))],
    ['"constructor"', 'constructor', (o) => o.placeOrder(JSON.parse(JSON.stringify({ ...placeInput(), constructor: 'x' })))],
    ['a misspelt option', 'reasn', (o, id) => o.changeStatus(id, 'confirmed', { reasn: 'typo' } as never)],
    ['an option the method does not take', 'attempt', (o, id) => o.changeStatus(id, 'confirmed', { attempt: 2 } as never)],
    ['an unknown key in a payment', 'currency', (o, id) => o.recordPayment(id, { paymentId: 'p', amount: { amount: 1, currency: 'EUR' }, currency: 'EUR' } as never)],
    ['an order id smuggled into a payment', 'orderId', (o, id) => o.recordPayment(id, { paymentId: 'p', amount: { amount: 1, currency: 'EUR' }, orderId: ORDER_ID } as never)],
    ['an unknown key in an order number', 'sequence', (o, id) => o.assignNumber(id, { number: 'A-1', prefix: 'A', day: '20260301', sequence: 1 } as never)],
  ])('%s: ValidationError naming %s, nothing written', async (_label, path, act) => {
    const error = await refusal(act);
    expect(paths(error)).toContain(path);
    expect(error.message).toContain(path);
  });

  it('"__proto__" from JSON.parse is refused, and no prototype is polluted', async () => {
    const body = JSON.stringify(placeInput()).replace(/^\{/, '{"__proto__": {"polluted": 1}, ');
    const input = JSON.parse(body) as unknown;
    expect(Object.keys(input as object)).toContain('__proto__');
    const error = await refusal((o) => o.placeOrder(input as never));
    expect(paths(error)).toEqual(['__proto__']);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect((Object.prototype as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('the command schema the decider is fed refuses unknown keys too', () => {
    const command = { type: 'MarkProcessing', orderId: ORDER_ID, actor: 'ops', at: AT, force: true };
    expect(() => parseOrThrow(orderCommandSchema, command, 'MarkProcessing command')).toThrow(/force: unknown field/);
  });
});

describe('strict input: amounts stay exact', () => {
  const line = (quantity: number, amount: number) => ({ sku: 'GOLD', name: 'Gold bar', quantity, unitPrice: { amount, currency: 'EUR' } });

  it.each<[string, string, ReturnType<typeof line>[]]>([
    ['a unit price above MAX_SAFE_INTEGER', 'lines.0.unitPrice.amount', [line(1, MAX + 1)]],
    ['quantity × unit price above MAX_SAFE_INTEGER', 'lines.0', [line(2, Math.ceil(MAX / 2) + 1)]],
    ['a total above MAX_SAFE_INTEGER', 'lines', [line(1, MAX - 10), line(1, 11)]],
  ])('%s: ValidationError naming %s, nothing written', async (_label, path, lines) => {
    const error = await refusal((o) => o.placeOrder(placeInput({ lines })));
    expect(paths(error)).toContain(path);
  });

  it('a total of exactly MAX_SAFE_INTEGER is placed, exactly', async () => {
    const { orders } = await setup();
    const change = await orders.placeOrder(placeInput({ idempotencyKey: 'max', lines: [line(1, MAX - 10), line(2, 5)] }));
    expect(change.order.total).toEqual({ amount: MAX, currency: 'EUR' });
  });
});
