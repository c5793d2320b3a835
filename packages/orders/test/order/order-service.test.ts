import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MemoryEventStore,
  ValidationError,
  WrongExpectedVersionError,
  type EventStore,
  type RetryPolicy,
} from '@ordo/core';
import {
  createOrderService,
  IdempotencyConflictError,
  InvalidTransitionError,
  OrderNotFoundError,
  orderStream,
  type OrderService,
  type PlaceOrderInput,
} from '@ordo/orders';
import { placeInput } from './fixtures.js';

const NOW = new Date('2026-03-01T10:00:00.000Z');
const FAST: Partial<RetryPolicy> = { baseDelayMs: 0, maxDelayMs: 0 };

function setup(options: { store?: EventStore; retry?: Partial<RetryPolicy> } = {}) {
  const memory = new MemoryEventStore();
  const store = options.store ?? memory;
  let now = NOW;
  const orders = createOrderService({ store, clock: () => now, retry: options.retry ?? FAST });
  return {
    memory,
    orders,
    tick(ms: number) {
      now = new Date(now.getTime() + ms);
    },
  };
}

async function placed(orders: OrderService, input: Partial<PlaceOrderInput> = {}) {
  return orders.placeOrder(placeInput(input));
}

/** The error a promise rejects with; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
    },
    (error: unknown) => error,
  );
}

describe('order service: placing', () => {
  it('places an order under the id its idempotency key names', async () => {
    const { orders, memory } = setup();
    const change = await placed(orders);
    expect(change.orderId).toBe(orders.orderIdFor('cart-42'));
    expect(change).toMatchObject({ applied: true, noop: false, duplicate: false });
    expect(change.order).toMatchObject({ id: change.orderId, status: 'pending', total: { amount: 2150, currency: 'EUR' }, placedAt: NOW.toISOString() });
    expect(change.position).toBe(await memory.headPosition());
    expect((await memory.readStream(orderStream(change.orderId))).events.map((e) => e.type)).toEqual(['OrderPlaced']);
  });

  it('placing twice with the same key returns the same order, applied false, and writes nothing', async () => {
    const { orders, memory, tick } = setup();
    const first = await placed(orders);
    const head = await memory.headPosition();
    tick(60_000);
    const again = await placed(orders);
    expect(again.orderId).toBe(first.orderId);
    expect(again.applied).toBe(false);
    expect(again.order).toEqual(first.order);
    const fresh = await orders.placeOrder(placeInput(), { commandId: randomUUID(), actor: 'payment-callback' });
    expect(fresh).toMatchObject({ orderId: first.orderId, applied: false, noop: true });
    expect(await memory.headPosition()).toBe(head);
  });

  it('the same key with different contents throws IdempotencyConflictError and writes nothing', async () => {
    const { orders, memory } = setup();
    const first = await placed(orders);
    const head = await memory.headPosition();
    const other = { lines: [{ sku: 'SALAD', name: 'Salad', quantity: 1, unitPrice: { amount: 700, currency: 'EUR' } }] };
    const error = await rejection(placed(orders, other));
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(error).toMatchObject({ idempotencyKey: 'cart-42', orderId: first.orderId });
    await expect(orders.placeOrder(placeInput(other), { commandId: randomUUID() })).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(await memory.headPosition()).toBe(head);
  });

  it('accepts an idempotency key of 200 characters', async () => {
    const { orders } = setup();
    const change = await placed(orders, { idempotencyKey: 'k'.repeat(200) });
    expect(change).toMatchObject({ applied: true, orderId: orders.orderIdFor('k'.repeat(200)) });
    expect((await placed(orders, { idempotencyKey: 'k'.repeat(200) })).applied).toBe(false);
  });

  it('of two concurrent placements with one key but different contents, one is placed and the other refused', async () => {
    const { orders, memory } = setup();
    const other = { lines: [{ sku: 'SALAD', name: 'Salad', quantity: 1, unitPrice: { amount: 700, currency: 'EUR' } }] };
    const [a, b] = await Promise.allSettled([placed(orders), placed(orders, other)]);
    const outcomes = [a, b].map((r) => (r.status === 'fulfilled' ? 'placed' : (r.reason as Error).name)).sort();
    expect(outcomes).toEqual(['IdempotencyConflictError', 'placed']);
    const winner = (a.status === 'fulfilled' ? a : b) as PromiseFulfilledResult<Awaited<ReturnType<typeof placed>>>;
    const stored = (await memory.readStream(orderStream(winner.value.orderId))).events;
    expect(stored).toHaveLength(1);
    expect((stored[0]!.data as { lines: unknown }).lines).toEqual(winner.value.order.lines);
  });

  it('five concurrent deliveries of one payment callback place one order', async () => {
    const { orders, memory } = setup();
    const results = await Promise.all(Array.from({ length: 5 }, () => placed(orders)));
    expect(new Set(results.map((r) => r.orderId)).size).toBe(1);
    expect(results.filter((r) => r.applied).length).toBeGreaterThanOrEqual(1);
    const stream = await memory.readStream(orderStream(results[0]!.orderId));
    expect(stream.events.map((e) => e.type)).toEqual(['OrderPlaced']);
  });
});

describe('order service: validation', () => {
  const bad: [string, string, (orders: OrderService, orderId: string) => Promise<unknown>][] = [
    ['a zero quantity', 'lines.0.quantity', (o) => o.placeOrder(placeInput({ lines: [{ ...placeInput().lines[0]!, quantity: 0 }] }))],
    ['a fractional price', 'lines.0.unitPrice.amount', (o) => o.placeOrder(placeInput({ lines: [{ ...placeInput().lines[0]!, unitPrice: { amount: 9.5, currency: 'EUR' } }] }))],
    ['a line in another currency', 'lines.0.unitPrice.currency', (o) => o.placeOrder(placeInput({ lines: [{ ...placeInput().lines[0]!, unitPrice: { amount: 1, currency: 'USD' } }] }))],
    ['no lines', 'lines', (o) => o.placeOrder(placeInput({ lines: [] }))],
    ['a customer who cannot be reached', 'customer', (o) => o.placeOrder(placeInput({ customer: { name: 'Ann' } }))],
    ['no customer', 'customer', (o) => o.placeOrder({ ...placeInput(), customer: undefined as never })],
    ['a bad e-mail address', 'customer.email', (o) => o.placeOrder(placeInput({ customer: { email: 'ann' } }))],
    ['an empty idempotency key', 'idempotencyKey', (o) => o.placeOrder(placeInput({ idempotencyKey: '' }))],
    ['a lower-case currency', 'currency', (o) => o.placeOrder(placeInput({ currency: 'eur' }))],
    ['an unknown status', 'to', (o, id) => o.changeStatus(id, 'shipped')],
    ['a status of the wrong type', 'to', (o, id) => o.changeStatus(id, 42 as never)],
    ['an order id that is not a UUID', 'orderId', (o) => o.changeStatus('order-1', 'confirmed')],
    ['an order id that is not a UUID, when reading', 'orderId', (o) => o.getOrder('order-1')],
    ['a cancellation without a reason', 'reason', (o, id) => o.cancel(id, {} as never)],
    ['a negative payment', 'amount.amount', (o, id) => o.recordPayment(id, { paymentId: 'p1', amount: { amount: -5, currency: 'EUR' } })],
    ['a payment without an id', 'paymentId', (o, id) => o.recordPayment(id, { paymentId: '', amount: { amount: 5, currency: 'EUR' } })],
    ['an empty command id', 'commandId', (o, id) => o.changeStatus(id, 'confirmed', { commandId: '' })],
    ['an empty actor', 'actor', (o, id) => o.changeStatus(id, 'confirmed', { actor: '' })],
    ['a malformed order-number day', 'day', (o, id) => o.assignNumber(id, { number: 'A-1', prefix: 'A', day: '2026-03-01' })],
  ];

  it.each(bad)('%s throws ValidationError naming %s, and writes nothing', async (_label, path, act) => {
    const { orders, memory } = setup();
    const { orderId } = await placed(orders);
    const head = await memory.headPosition();
    const error = await rejection(act(orders, orderId));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toContain(path);
    expect((error as ValidationError).message).toContain(path);
    expect(await memory.headPosition()).toBe(head);
  });
});

describe('order service: status changes', () => {
  it('moves an order along the lifecycle; asking for the current status is a no-op', async () => {
    const { orders, memory } = setup();
    const { orderId } = await placed(orders);
    const confirmed = await orders.changeStatus(orderId, 'confirmed', { actor: 'ann' });
    expect(confirmed).toMatchObject({ applied: true, noop: false, order: { status: 'confirmed' } });
    expect(confirmed.events).toEqual([
      { type: 'OrderStatusChanged', data: expect.objectContaining({ from: 'pending', to: 'confirmed', by: 'ann' }) },
    ]);
    const head = await memory.headPosition();
    const again = await orders.changeStatus(orderId, 'confirmed', { actor: 'bob' });
    expect(again).toMatchObject({ applied: false, noop: true, duplicate: false, events: [], position: null });
    expect(again.order.status).toBe('confirmed');
    expect(await memory.headPosition()).toBe(head);
  });

  it('refuses a forbidden move with InvalidTransitionError and writes nothing', async () => {
    const { orders, memory } = setup();
    const { orderId } = await placed(orders);
    const head = await memory.headPosition();
    const error = await rejection(orders.changeStatus(orderId, 'delivered'));
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ from: 'pending', to: 'delivered', allowed: ['confirmed', 'submitting', 'cancelled'] });
    expect(await memory.headPosition()).toBe(head);
  });

  it('refuses commands for an order that does not exist, writing nothing', async () => {
    const { orders, memory } = setup();
    const missing = randomUUID();
    await expect(orders.changeStatus(missing, 'confirmed')).rejects.toBeInstanceOf(OrderNotFoundError);
    await expect(orders.getOrder(missing)).rejects.toBeInstanceOf(OrderNotFoundError);
    await expect(orders.history(missing)).rejects.toBeInstanceOf(OrderNotFoundError);
    expect(await memory.headPosition()).toBe(0n);
  });

  it('the history shows who, why, when, the command and the correlation of every change', async () => {
    const { orders, tick } = setup();
    const { orderId } = await orders.placeOrder(placeInput(), { actor: 'shop', correlationId: 'checkout-9' });
    tick(60_000);
    await orders.changeStatus(orderId, 'confirmed', {
      actor: 'ann',
      reason: 'stock checked',
      commandId: 'cmd-confirm',
      correlationId: 'req-1',
      causationId: 'ticket-7',
    });
    tick(60_000);
    await orders.recordPayment(orderId, { paymentId: 'pay-1', amount: { amount: 2150, currency: 'EUR' } }, { actor: 'psp' });
    tick(60_000);
    await orders.cancel(orderId, { actor: 'bob', reason: 'customer called', commandId: 'cmd-cancel' });

    const history = await orders.history(orderId);
    expect(history.map((h) => [h.type, h.actor, h.reason, h.at])).toEqual([
      ['OrderPlaced', 'shop', undefined, '2026-03-01T10:00:00.000Z'],
      ['OrderStatusChanged', 'ann', 'stock checked', '2026-03-01T10:01:00.000Z'],
      ['PaymentRecorded', 'psp', undefined, '2026-03-01T10:02:00.000Z'],
      ['OrderStatusChanged', 'bob', 'customer called', '2026-03-01T10:03:00.000Z'],
    ]);
    expect(history.map((h) => h.version)).toEqual([0n, 1n, 2n, 3n]);
    expect(history[0]).toMatchObject({ commandId: expect.stringMatching(/^place:/), correlationId: 'checkout-9' });
    expect(history[1]).toMatchObject({ commandId: 'cmd-confirm', correlationId: 'req-1', causationId: 'ticket-7' });
    expect(history[3]).toMatchObject({ commandId: 'cmd-cancel', data: { from: 'confirmed', to: 'cancelled' } });
    expect(history[3]).not.toHaveProperty('correlationId');
    for (const entry of history) expect(entry.recordedAt).toBeInstanceOf(Date);
    expect(history[2]!.commandId).toEqual(expect.any(String));
    expect(new Set(history.map((h) => h.commandId)).size).toBe(4);
  });

  it('a retried command id is a duplicate: same events, nothing new, even after the order moved on', async () => {
    const { orders, memory } = setup();
    const { orderId } = await placed(orders);
    const first = await orders.changeStatus(orderId, 'confirmed', { commandId: 'cmd-1', actor: 'ann' });
    await orders.changeStatus(orderId, 'preparing', { commandId: 'cmd-2' });
    const head = await memory.headPosition();

    const retried = await orders.changeStatus(orderId, 'confirmed', { commandId: 'cmd-1', actor: 'ann' });
    expect(retried).toMatchObject({ duplicate: true, applied: false, noop: false, position: first.position });
    expect(retried.events).toEqual(first.events);
    expect(retried.order.status).toBe('preparing');
    expect(await memory.headPosition()).toBe(head);
    expect((await orders.history(orderId)).filter((h) => h.commandId === 'cmd-1')).toHaveLength(1);
  });

  it('re-reads and re-decides after losing a race', async () => {
    const memory = new MemoryEventStore();
    let raced = false;
    const racing: EventStore = Object.assign(Object.create(memory) as EventStore, {
      async appendToStream(...args: Parameters<EventStore['appendToStream']>) {
        if (!raced && args[1][0]?.type === 'OrderStatusChanged') {
          raced = true;
          await rival.changeStatus(args[0].slice('order-'.length), 'confirmed', { actor: 'rival' });
        }
        return memory.appendToStream(...args);
      },
    });
    const rival = createOrderService({ store: memory, retry: FAST });
    const { orders } = setup({ store: racing });
    const { orderId } = await placed(orders);

    // Decided from "pending"; the rival confirms first; re-decided from "confirmed".
    const change = await orders.changeStatus(orderId, 'cancelled', { actor: 'ann' });
    expect(raced).toBe(true);
    expect(change).toMatchObject({ applied: true, order: { status: 'cancelled' } });
    expect(change.events[0]!.data).toMatchObject({ from: 'confirmed', to: 'cancelled' });
    expect((await orders.history(orderId)).map((h) => h.actor)).toEqual(['system', 'rival', 'ann']);
  });

  it('gives up after maxAttempts with WrongExpectedVersionError carrying attempts, writing nothing', async () => {
    const memory = new MemoryEventStore();
    let appends = 0;
    const conflicting: EventStore = Object.assign(Object.create(memory) as EventStore, {
      async appendToStream(stream: string) {
        appends++;
        throw new WrongExpectedVersionError(stream, 0n, 1n);
      },
    });
    const { orderId } = await createOrderService({ store: memory }).placeOrder(placeInput());
    const head = await memory.headPosition();
    const orders = createOrderService({ store: conflicting, retry: { maxAttempts: 3, ...FAST } });

    const error = await rejection(orders.changeStatus(orderId, 'confirmed'));
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ attempts: 3, stream: orderStream(orderId) });
    expect((error as Error).message).toContain('3 attempts');
    expect(appends).toBe(3);
    expect(await memory.headPosition()).toBe(head);
  });

  it('with maxAttempts 1, a racing writer makes the command fail at once with attempts 1', async () => {
    const memory = new MemoryEventStore();
    const rival = createOrderService({ store: memory, retry: FAST });
    const racing: EventStore = Object.assign(Object.create(memory) as EventStore, {
      async appendToStream(...args: Parameters<EventStore['appendToStream']>) {
        if (args[1][0]?.type === 'OrderStatusChanged') {
          await rival.changeStatus(args[0].slice('order-'.length), 'confirmed', { actor: 'rival' });
        }
        return memory.appendToStream(...args);
      },
    });
    const orders = createOrderService({ store: racing, retry: { maxAttempts: 1, ...FAST } });
    const { orderId } = await orders.placeOrder(placeInput());
    const error = await rejection(orders.changeStatus(orderId, 'cancelled', { reason: 'no stock' }));
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ attempts: 1, expected: 0n, actual: 1n });
    expect((await orders.getOrder(orderId)).status).toBe('confirmed');
  });
});

describe('order service: payments and fulfillment', () => {
  it('records a payment once per payment id', async () => {
    const { orders } = setup();
    const { orderId } = await placed(orders);
    const pay = { paymentId: 'pay-1', amount: { amount: 2150, currency: 'EUR' } };
    expect((await orders.recordPayment(orderId, pay)).applied).toBe(true);
    expect(await orders.recordPayment(orderId, pay)).toMatchObject({ applied: false, noop: true });
    expect((await orders.getOrder(orderId)).paid).toBe(2150);
  });

  it('runs a submission through provider, processing and completion', async () => {
    const { orders } = setup();
    const { orderId } = await placed(orders);
    expect((await orders.startSubmission(orderId)).order).toMatchObject({ status: 'submitting', submissionAttempts: 1 });
    expect((await orders.recordProviderRequest(orderId, 'req-1')).order).toMatchObject({ status: 'submitted', providerRequestId: 'req-1' });
    expect((await orders.recordProviderRequest(orderId, 'req-1')).noop).toBe(true);
    expect((await orders.markProcessing(orderId)).order.status).toBe('processing');
    expect((await orders.completeFulfillment(orderId)).order.status).toBe('completed');
    expect((await orders.history(orderId)).map((h) => (h.data as { to?: string }).to ?? h.type)).toEqual([
      'OrderPlaced',
      'submitting',
      'submitted',
      'processing',
      'completed',
    ]);
  });
});
