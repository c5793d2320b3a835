/**
 * The order decider under concurrency, with the kit from `@ordo/core/testing`: admins on three app
 * servers, a payment provider re-sending callbacks and double clicks, on two orders at once.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { raceCommands, raceProperty } from '@ordo/core/testing/race';
import { createOrderDecider, defaultLifecycle, orderStream, type OrderCommand, type OrderState } from '@ordo/orders';
import { AT, placeCommand } from './fixtures.js';

const ORDERS = ['9a1b2c3d-0000-4000-8000-000000000001', '9a1b2c3d-0000-4000-8000-000000000002'];
const decider = createOrderDecider(defaultLifecycle);

/** Commands for an order; the stream is drawn separately, so the order id is set when sent. */
const command: fc.Arbitrary<OrderCommand> = fc.oneof(
  fc.constant(placeCommand({ orderId: '' })),
  fc.record({ type: fc.constant('ChangeStatus' as const), to: fc.constantFrom(...defaultLifecycle.statuses), actor: fc.constantFrom('admin:ann', 'admin:bob'), at: fc.constant(AT), orderId: fc.constant('') }),
  fc.record({ type: fc.constant('CancelOrder' as const), reason: fc.constant('customer asked'), actor: fc.constant('admin:ann'), at: fc.constant(AT), orderId: fc.constant('') }),
  fc.record({
    type: fc.constant('RecordPayment' as const),
    paymentId: fc.constantFrom('pay-1', 'pay-2'),
    amount: fc.constant({ amount: 1000, currency: 'EUR' }),
    actor: fc.constant('psp'),
    at: fc.constant(AT),
    orderId: fc.constant(''),
  }),
) as fc.Arbitrary<OrderCommand>;

const commands = raceCommands({ streams: ORDERS.map(orderStream), command, maxCommands: 8, maxResends: 4 }).map((sent) =>
  sent.map((c) => ({ ...c, command: { ...c.command, orderId: c.stream.slice('order-'.length) } as OrderCommand })),
);

/** What holds for every order in every state it passes through. */
function orderInvariant(states: ReadonlyMap<string, OrderState>): true | string {
  for (const [stream, order] of states) {
    if (!order) continue;
    if (!defaultLifecycle.statuses.includes(order.status as never)) return `${stream}: unknown status ${order.status}`;
    const ids = order.payments.map((p) => p.paymentId);
    if (new Set(ids).size !== ids.length) return `${stream}: payment recorded twice`;
    if (order.paid !== order.payments.reduce((sum, p) => sum + p.amount.amount, 0)) return `${stream}: paid is not the sum of payments`;
  }
  return true;
}

it('racing admins, payment callbacks and double clicks: linearizable, each payment once, status always in the lifecycle', async () => {
  const property = raceProperty({ decider, commands, invariant: orderInvariant });
  const details = await fc.check(property, { numRuns: 300 });
  expect(details.failed ? String(details.errorInstance) : 'held').toBe('held');
});
