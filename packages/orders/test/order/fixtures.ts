import {
  defaultLifecycle,
  type Lifecycle,
  type OrderCommand,
  type OrderEvent,
  type PlaceOrderInput,
} from '@ordo/orders';

/** Shared values for the order tests. */
export const ORDER_ID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
export const AT = '2026-03-01T10:00:00.000Z';
export const LATER = '2026-03-01T11:00:00.000Z';

export const placeInput = (overrides: Partial<PlaceOrderInput> = {}): PlaceOrderInput => ({
  idempotencyKey: 'cart-42',
  customer: { name: 'Ann', email: 'ann@example.com' },
  lines: [
    { sku: 'PIZZA-M', name: 'Pizza Margherita', quantity: 2, unitPrice: { amount: 950, currency: 'EUR' } },
    { sku: 'COLA', name: 'Cola 0.33', quantity: 1, unitPrice: { amount: 250, currency: 'EUR' } },
  ],
  currency: 'EUR',
  ...overrides,
});

export const placeCommand = (overrides: Partial<Extract<OrderCommand, { type: 'PlaceOrder' }>> = {}): OrderCommand => ({
  type: 'PlaceOrder',
  orderId: ORDER_ID,
  actor: 'checkout',
  at: AT,
  ...(placeInput() as Omit<Extract<OrderCommand, { type: 'PlaceOrder' }>, 'type' | 'orderId' | 'actor' | 'at'>),
  ...overrides,
});

export const placed: OrderEvent = {
  type: 'OrderPlaced',
  data: {
    orderId: ORDER_ID,
    idempotencyKey: 'cart-42',
    customer: { name: 'Ann', email: 'ann@example.com' },
    lines: placeInput().lines as Extract<OrderEvent, { type: 'OrderPlaced' }>['data']['lines'],
    total: { amount: 2150, currency: 'EUR' },
    placedAt: AT,
    placedBy: 'checkout',
  },
};

export const paid = (paymentId = 'pay-1', amount = 2150): OrderEvent => ({
  type: 'PaymentRecorded',
  data: { orderId: ORDER_ID, paymentId, amount: { amount, currency: 'EUR' }, by: 'psp', at: AT },
});

export const statusChanged = (
  from: string,
  to: string,
  extra: Partial<Extract<OrderEvent, { type: 'OrderStatusChanged' }>['data']> = {},
): OrderEvent => ({
  type: 'OrderStatusChanged',
  data: { orderId: ORDER_ID, from, to, by: 'admin', at: AT, ...extra },
});

export const changeStatus = (to: string, extra: { reason?: string; actor?: string } = {}): OrderCommand => ({
  type: 'ChangeStatus',
  orderId: ORDER_ID,
  to,
  actor: extra.actor ?? 'admin',
  at: LATER,
  ...(extra.reason !== undefined && { reason: extra.reason }),
});

/** A shortest path of statuses from the initial one to `target` (both included). */
export function pathTo<S extends string>(target: S, lifecycle: Lifecycle<S> = defaultLifecycle as unknown as Lifecycle<S>): S[] {
  const previous = new Map<S, S | null>([[lifecycle.initial, null]]);
  const queue: S[] = [lifecycle.initial];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const next of lifecycle.allowed(at)) {
      if (!previous.has(next)) {
        previous.set(next, at);
        queue.push(next);
      }
    }
  }
  if (!previous.has(target)) throw new Error(`"${target}" is unreachable`);
  const path: S[] = [];
  for (let at: S | null = target; at !== null; at = previous.get(at) ?? null) path.unshift(at);
  return path;
}

/** Events that bring a placed (and paid) order to `status` along a path the lifecycle allows. */
export function historyTo(status: string, options: { paid?: boolean } = {}): OrderEvent[] {
  const path = pathTo(status as never) as string[];
  const events: OrderEvent[] = [placed];
  if (options.paid ?? true) events.push(paid());
  for (let i = 1; i < path.length; i++) events.push(statusChanged(path[i - 1]!, path[i]!));
  return events;
}
