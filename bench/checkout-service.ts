/**
 * One order service process of scenario 7: its own pool, store, order service and order-numbers
 * projection (runner and waiter subscription), as a deployed service instance has. Told by the
 * parent when to start, it runs its share of the checkouts at once and sends back each one's
 * placement and time-to-number, and the numbers it got.
 */
import { type CheckpointStore } from '@ordo/core';
import { createOrderNumbers, createOrderService } from '@ordo/orders';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import pg from 'pg';
import { checkoutInput } from './checkouts.js';
import { POOL_SIZE, PROJECTION_POOL_SIZE } from './stores/types.js';

/** What the parent sends a service process. */
export interface ServiceTask {
  url: string;
  count: number;
  run: string;
  index: number;
}

/** What a service process sends back after its checkouts. */
export interface ServiceReport {
  placeMs: number[];
  totalMs: number[];
  numbers: string[];
  errors: number;
  firstError?: string;
}

async function main() {
  const task = JSON.parse(process.argv[2] ?? '{}') as ServiceTask;
  const pool = new pg.Pool({ connectionString: task.url, max: POOL_SIZE });
  const store = new PostgresEventStore({ pool });
  const orders = createOrderService({ store });
  // The projection (and the waiters' subscription) on a small pool of its own, so that its reads,
  // appends and checkpoints do not queue behind the burst of placements on the request pool.
  const projectionPool = new pg.Pool({ connectionString: task.url, max: PROJECTION_POOL_SIZE });
  const projectionStore = new PostgresEventStore({ pool: projectionPool });
  const checkpoints = new PostgresCheckpointStore({ pool: projectionPool });
  const numbers = createOrderNumbers({
    store: projectionStore,
    orders: createOrderService({ store: projectionStore }),
    checkpoints: checkpoints as CheckpointStore<unknown> as CheckpointStore,
  });
  await numbers.start();
  // Warm-up: connections, prepared statements.
  for (let i = 0; i < 5; i++) {
    const placed = await orders.placeOrder(checkoutInput(`warm-${task.run}-${task.index}-${i}`));
    await numbers.waitForNumber(placed.orderId, { timeoutMs: 60_000 });
  }
  const report: ServiceReport = { placeMs: [], totalMs: [], numbers: [], errors: 0 };
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send!('ready');
  await go;
  await Promise.all(
    Array.from({ length: task.count }, async (_, i) => {
      const t0 = performance.now();
      try {
        const placed = await orders.placeOrder(checkoutInput(`cart-${task.run}-${task.index}-${i}`));
        report.placeMs.push(performance.now() - t0);
        report.numbers.push(await numbers.waitForNumber(placed.orderId, { timeoutMs: 10 * 60_000 }));
        report.totalMs.push(performance.now() - t0);
      } catch (error) {
        report.errors++;
        report.firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    }),
  );
  await new Promise<void>((resolve) => process.send!(report, () => resolve()));
  // Stay until told: the other services may still need this one's runner (any copy may number).
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  await numbers.stop();
  await Promise.all([store.close(), projectionStore.close()]);
  await Promise.all([pool.end(), projectionPool.end()]);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
