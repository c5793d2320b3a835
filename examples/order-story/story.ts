/**
 * One order's story, told on any store: placed, a duplicate placement absorbed, two admins racing
 * to change its status, and the audit trail that results.
 */
import { type EventStore } from '@ordo/core';
import { InvalidTransitionError, createOrderService, type OrderChange } from '@ordo/orders';

export interface OrderStorySummary {
  orderId: string;
  duplicatePlacementAbsorbed: boolean;
  race: { actor: string; outcome: 'applied' | 'no-op' | 'rejected'; detail: string }[];
  finalStatus: string;
  history: string[];
}

export async function orderStory(store: EventStore): Promise<OrderStorySummary> {
  const orders = createOrderService({ store });
  const cart = {
    idempotencyKey: `cart-${Date.now()}-story`,
    customer: { name: 'Ada', email: 'ada@example.com' },
    currency: 'EUR',
    lines: [{ sku: 'PIZZA-M', name: 'Margherita', quantity: 2, unitPrice: { amount: 950, currency: 'EUR' } }],
    // A prefix of its own: the demo runs the checkout next on the same store, and its numbers
    // (the numbering projection's default prefix) should start at 0001.
    prefix: 'STORY',
  };

  const first = await orders.placeOrder(cart, { actor: 'checkout', correlationId: 'payment-callback' });
  const again = await orders.placeOrder(cart, { actor: 'checkout', correlationId: 'payment-callback-retry' });

  // Two admins click at the same moment: one confirms, the other (on a stale screen) also confirms,
  // and a third tries to jump straight to delivered.
  const attempts: [string, string][] = [
    ['admin:ann', 'confirmed'],
    ['admin:bob', 'confirmed'],
    ['admin:cem', 'delivered'],
  ];
  const race = await Promise.all(
    attempts.map(async ([actor, to]) => {
      try {
        const change: OrderChange = await orders.changeStatus(first.orderId, to, { actor, reason: `${actor} clicked ${to}` });
        return { actor, outcome: change.applied ? ('applied' as const) : ('no-op' as const), detail: `→ ${to}` };
      } catch (error) {
        if (error instanceof InvalidTransitionError) return { actor, outcome: 'rejected' as const, detail: error.message };
        throw error;
      }
    }),
  );

  const history = (await orders.history(first.orderId)).map(
    (entry) =>
      `v${entry.version} ${entry.type}${'to' in entry.data ? ` → ${entry.data.to}` : ''} by ${entry.actor} at ${entry.at}` +
      (entry.reason ? ` (${entry.reason})` : ''),
  );
  return {
    orderId: first.orderId,
    duplicatePlacementAbsorbed: again.orderId === first.orderId && !again.applied,
    race,
    finalStatus: (await orders.getOrder(first.orderId)).status,
    history,
  };
}

export function printOrderStory(summary: OrderStorySummary): void {
  console.log(`Order ${summary.orderId} placed; the same payment callback again was absorbed: ${summary.duplicatePlacementAbsorbed}`);
  for (const r of summary.race) console.log(`  ${r.actor.padEnd(10)} ${r.outcome.padEnd(8)} ${r.detail}`);
  console.log(`  final status: ${summary.finalStatus}`);
  console.log('  history:');
  for (const line of summary.history) console.log(`    ${line}`);
}
