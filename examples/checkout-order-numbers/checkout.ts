/**
 * The failure: two checkouts get the same `PREFIX-YYYYMMDD-####`, because the number was computed
 * on the write path from "the last number + 1" (or a counter row, or a random suffix).
 *
 * Here: 1,000 checkouts run at once, and each one's payment callback arrives 1 to 5 times. Orders
 * are placed idempotently by payment reference; numbers are handed out by the order-numbers
 * projection in log order, each claimed by an exact-version append to the day's numbering stream.
 */
import { type EventStore } from '@ordo/core';
import { createOrderNumbers, createOrderService, parseOrderNumber } from '@ordo/orders';

export interface CheckoutSummary {
  checkouts: number;
  callbacks: number;
  orders: number;
  uniqueNumbers: number;
  /** Per day: is the sequence 1..n with no gap and no repeat? */
  gaplessPerDay: boolean;
  firstNumber: string;
  lastNumber: string;
  /** Milliseconds from a checkout's first callback until its number was visible. */
  timeToNumberMs: { p50: number; p99: number };
}

export async function checkoutOrderNumbers(
  store: EventStore,
  { checkouts = 1000, prefix = 'GAM', timeZone = 'Europe/Berlin' } = {},
): Promise<CheckoutSummary> {
  const orders = createOrderService({ store });
  const numbers = createOrderNumbers({ store, prefix, timeZone });
  await numbers.start();
  const run = `${Date.now().toString(36)}`;

  let callbacks = 0;
  const timings: number[] = [];
  const results = await Promise.all(
    Array.from({ length: checkouts }, async (_, i) => {
      const paymentRef = `pay-${run}-${i}`;
      const deliveries = 1 + (i % 5); // the provider calls back 1..5 times
      callbacks += deliveries;
      const started = performance.now();
      const placed = await Promise.all(
        Array.from({ length: deliveries }, () =>
          orders.placeOrder({
            idempotencyKey: paymentRef,
            customer: { email: `customer${i}@example.com` },
            currency: 'EUR',
            lines: [{ sku: 'TICKET', name: 'Game night ticket', quantity: 1 + (i % 3), unitPrice: { amount: 1500, currency: 'EUR' } }],
          }),
        ),
      );
      const number = await numbers.waitForNumber(placed[0]!.orderId, { timeoutMs: 30_000, placedAt: placed[0]!.position });
      timings.push(performance.now() - started);
      return { orderId: placed[0]!.orderId, number };
    }),
  );
  await numbers.stop();

  const orderIds = new Set(results.map((r) => r.orderId));
  const assigned = results.map((r) => r.number);
  const byDay = new Map<string, number[]>();
  for (const number of new Set(assigned)) {
    const parts = parseOrderNumber(number)!;
    const key = `${parts.prefix}-${parts.day}`;
    byDay.set(key, [...(byDay.get(key) ?? []), parts.sequence]);
  }
  // A store that already holds orders of today (a real server, a second run) starts past 1.
  const gaplessPerDay = [...byDay.values()].every((seqs) => {
    const sorted = [...seqs].sort((a, b) => a - b);
    return sorted.every((s, i) => s === sorted[0]! + i);
  });
  const sorted = [...assigned].sort();
  timings.sort((a, b) => a - b);
  const pct = (p: number) => Math.round(timings[Math.min(timings.length - 1, Math.floor((p / 100) * timings.length))]!);
  return {
    checkouts,
    callbacks,
    orders: orderIds.size,
    uniqueNumbers: new Set(assigned).size,
    gaplessPerDay,
    firstNumber: sorted[0]!,
    lastNumber: sorted[sorted.length - 1]!,
    timeToNumberMs: { p50: pct(50), p99: pct(99) },
  };
}

export function printCheckout(s: CheckoutSummary): void {
  console.log(`${s.checkouts} concurrent checkouts, ${s.callbacks} payment callbacks`);
  console.log(`  orders created:   ${s.orders}`);
  console.log(`  unique numbers:   ${s.uniqueNumbers} (gapless per day: ${s.gaplessPerDay ? 'yes' : 'NO'})`);
  console.log(`  first / last:     ${s.firstNumber} … ${s.lastNumber}`);
  console.log(`  time to number:   p50 ${s.timeToNumberMs.p50} ms, p99 ${s.timeToNumberMs.p99} ms`);
}
