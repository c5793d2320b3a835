// The README's quick start, kept here so it is type-checked and tested.
import { MemoryEventStore } from '@ordo/core';
import { createOrderNumbers, createOrderService } from '@ordo/orders';

export async function quickStart() {
  const store = new MemoryEventStore(); // or PostgresEventStore / EventStoreDBEventStore
  const orders = createOrderService({ store });
  const numbers = createOrderNumbers({ store, prefix: 'SHOP', timeZone: 'Europe/Berlin' });
  await numbers.start();

  // A payment callback may arrive five times: the idempotency key makes it one order.
  const { orderId, position } = await orders.placeOrder({
    idempotencyKey: 'payment-pi_3Q8xYz',
    customer: { email: 'ada@example.com' },
    currency: 'EUR',
    lines: [{ sku: 'PIZZA-M', name: 'Margherita', quantity: 2, unitPrice: { amount: 950, currency: 'EUR' } }],
  });

  const number = await numbers.waitForNumber(orderId, { placedAt: position }); // e.g. SHOP-20261123-0001
  await orders.changeStatus(orderId, 'confirmed', { actor: 'admin:ann', reason: 'kitchen has capacity' });
  await orders.changeStatus(orderId, 'confirmed', { actor: 'admin:bob' }); // already confirmed: a no-op

  const order = await orders.getOrder(orderId);
  const history = await orders.history(orderId); // who, when, why: the audit trail
  await numbers.stop();
  return { number, status: order.status, history };
}
