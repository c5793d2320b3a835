/**
 * The concurrency kit on real PostgreSQL: racing admins and re-sent payment callbacks through
 * three command handlers on one database, each run on a fresh schema.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { raceCommands, raceProperty } from '@ordo/core/testing/race';
import { createOrderDecider, orderStream, type OrderCommand } from '@ordo/orders';
import { createTestStore } from '../support/postgres.js';

const ORDER = '7c1d2e3f-0000-4000-8000-00000000000a';
const at = '2026-11-23T08:00:00.000Z';
const place: OrderCommand = {
  type: 'PlaceOrder',
  orderId: ORDER,
  idempotencyKey: 'cart-race',
  customer: { email: 'ann@example.com' },
  currency: 'EUR',
  lines: [{ sku: 'PIZZA', name: 'Pizza', quantity: 1, unitPrice: { amount: 900, currency: 'EUR' } }],
  actor: 'checkout',
  at,
};

const command: fc.Arbitrary<OrderCommand> = fc.oneof(
  fc.constant(place),
  fc.constantFrom('confirmed', 'preparing', 'cancelled', 'submitting').map((to): OrderCommand => ({ type: 'ChangeStatus', orderId: ORDER, to, actor: 'admin:ann', at })),
  fc.constantFrom('pay-1', 'pay-2').map((paymentId): OrderCommand => ({ type: 'RecordPayment', orderId: ORDER, paymentId, amount: { amount: 900, currency: 'EUR' }, actor: 'psp', at })),
);

it('racing admins and callbacks on PostgreSQL: every run linearizable, every re-sent command absorbed (30 runs)', async () => {
  const property = raceProperty({
    decider: createOrderDecider(),
    commands: raceCommands({ streams: [orderStream(ORDER)], command, maxCommands: 6, maxResends: 3 }),
    // Closing a test store drops its schema.
    store: () => createTestStore(),
    release: (store) => store.close(),
  });
  const details = await fc.check(property, { numRuns: 30 });
  expect(details.failed ? String(details.errorInstance) : 'held').toBe('held');
});
