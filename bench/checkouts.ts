/**
 * 6: concurrent checkouts on Ordo with PostgreSQL. Every checkout places an order through the
 * order service and then waits for its number (`waitForNumber`), which the order-numbers
 * projection assigns from the log. Measured per order: from the start of the checkout until the
 * order has its number. Afterwards the numbers must be unique and gapless. Two more measurements
 * on the same database show where the time goes: the same checkouts waiting in-process instead of
 * polling, and the numbering of a backlog of orders alone.
 */
import { type CheckpointStore } from '@ordo/core';
import {
  createOrderNumbers,
  createOrderService,
  parseOrderNumber,
  type PlaceOrderInput,
} from '@ordo/orders';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import pg from 'pg';
import { cpuPer, startCpu } from './cpu.js';
import type { Measurement } from './scenarios.js';
import { Latencies, seconds } from './stats.js';
import { POOL_SIZE } from './stores/types.js';

/** The checkout every scenario places: two lines, an idempotency key of its own. */
export function checkoutInput(key: string): PlaceOrderInput {
  return {
    idempotencyKey: key,
    customer: { name: 'Bench Customer', email: 'customer@example.com' },
    lines: [
      { sku: 'PIZZA-MARGHERITA', name: 'Margherita', quantity: 2, unitPrice: { amount: 950, currency: 'EUR' } },
      { sku: 'DRINK-WATER', name: 'Water', quantity: 1, unitPrice: { amount: 250, currency: 'EUR' } },
    ],
    currency: 'EUR',
  };
}

export async function checkouts(url: string, count: number): Promise<Measurement> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const store = new PostgresEventStore({ pool });
  await store.migrate();
  const checkpoints = new PostgresCheckpointStore({ pool });
  const orders = createOrderService({ store });
  const numbers = createOrderNumbers({ store, orders, checkpoints: checkpoints as CheckpointStore<unknown> as CheckpointStore });
  await numbers.start();
  const run = crypto.randomUUID();
  const assigned: string[] = [];

  async function checkout(key: string, total: Latencies, place: Latencies) {
    const t0 = performance.now();
    const placed = await orders.placeOrder(checkoutInput(key));
    place.add(performance.now() - t0);
    assigned.push(await numbers.waitForNumber(placed.orderId, { timeoutMs: 10 * 60_000, placedAt: placed.position }));
    total.add(performance.now() - t0);
  }

  // Warm-up: a few checkouts, one after the other.
  for (let i = 0; i < 10; i++) await checkout(`warm-${run}-${i}`, new Latencies(), new Latencies());

  const total = new Latencies();
  const place = new Latencies();
  let errors = 0;
  let firstError: string | undefined;
  const cpu = startCpu();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      checkout(`cart-${run}-${i}`, total, place).catch((error: unknown) => {
        errors++;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }),
    ),
  );
  const took = seconds(start);
  const used = cpu();

  // Unique and gapless: the sequences of the day are exactly 1..n.
  const sequences = assigned.map((n) => parseOrderNumber(n)?.sequence ?? -1).sort((a, b) => a - b);
  let gapsOrRepeats = 0;
  sequences.forEach((s, i) => {
    if (s !== i + 1) gapsOrRepeats++;
  });
  const placeSummary = place.summary();

  // Where the time goes, measured on the same database afterwards:
  // (a) the same checkouts, each waiting in this process for the runner to pass its placement
  //     (`runner.waitFor`) instead of polling its stream (`waitForNumber`);
  const inProcess = new Latencies();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const t0 = performance.now();
      const placed = await orders.placeOrder(checkoutInput(`in-process-${run}-${i}`));
      await numbers.runner.waitFor(placed.position!, { timeoutMs: 10 * 60_000 });
      inProcess.add(performance.now() - t0);
    }),
  );
  // (b) numbering alone: orders placed while the projection is stopped, then numbered in one go.
  await numbers.stop();
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, k) => orders.placeOrder(checkoutInput(`backlog-${run}-${i + k}`))),
    );
  }
  const head = await store.headPosition();
  const numberingStart = performance.now();
  await numbers.start();
  await numbers.runner.waitFor(head, { timeoutMs: 10 * 60_000 });
  const numberingMs = performance.now() - numberingStart;
  await numbers.stop();
  await store.close();
  await pool.end();
  return {
    rate: total.count / took,
    unit: 'orders/s',
    count: total.count,
    seconds: took,
    ...total.summary(),
    extra: {
      placeP50: placeSummary.p50,
      placeP99: placeSummary.p99,
      errors,
      gapsOrRepeats,
      inProcessP50: inProcess.percentile(50),
      inProcessP99: inProcess.percentile(99),
      numberingMsPerOrder: numberingMs / count,
      ...cpuPer(used, total.count),
      ...(firstError !== undefined && { firstError: firstError.slice(0, 200) }),
    },
  };
}
