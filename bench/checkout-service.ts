/**
 * One order service process of scenarios 7 and 7e: its own store, order service and order-numbers
 * projection (runner and waiter subscription), as a deployed service instance has, on PostgreSQL
 * (7) or EventStoreDB (7e). Told by the parent when to start, it runs its share of the checkouts at
 * once and sends back each one's placement and time-to-number, and the numbers it got.
 */
import { type CheckpointStore } from '@ordo/core';
import { createOrderNumbers, createOrderService, type OrderNumbers, type OrderService } from '@ordo/orders';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { checkoutInput } from './checkouts.js';
import { connectEventStoreDB } from './eventstoredb.js';
import { POOL_SIZE, PROJECTION_POOL_SIZE } from './stores/types.js';

/** The store a service runs on: PostgreSQL (scenario 7) or EventStoreDB (7e). */
export type CheckoutBackend = 'postgres' | 'eventstoredb';

/** What the parent sends a service process. */
export interface ServiceTask {
  backend: CheckoutBackend;
  /** The database's or the EventStoreDB server's connection string. */
  url: string;
  count: number;
  run: string;
  index: number;
  /** The projection's name and the orders' number prefix, when not the defaults. */
  numbering?: { name: string; prefix: string };
  /** 7w: the numbering runs in a worker thread of the process; the main thread only waits for numbers. */
  numberingThread?: boolean;
}

/** What a service process sends back after its checkouts. */
export interface ServiceReport {
  placeMs: number[];
  totalMs: number[];
  numbers: string[];
  errors: number;
  firstError?: string;
}

/** A running service: what takes the checkouts, what numbers them, and how it shuts down. */
interface Service {
  orders: OrderService;
  numbers: OrderNumbers;
  close(): Promise<void>;
}

async function postgresService(task: ServiceTask): Promise<Service> {
  const pool = new pg.Pool({ connectionString: task.url, max: POOL_SIZE });
  const store = new PostgresEventStore({ pool });
  // The projection (and the waiters' subscription) on a small pool of its own, so that its reads,
  // appends and checkpoints do not queue behind the burst of placements on the request pool.
  const projectionPool = new pg.Pool({ connectionString: task.url, max: PROJECTION_POOL_SIZE });
  const projectionStore = new PostgresEventStore({ pool: projectionPool });
  const numbers = createOrderNumbers({
    store: projectionStore,
    orders: createOrderService({ store: projectionStore }),
    checkpoints: new PostgresCheckpointStore({ pool: projectionPool }) as CheckpointStore<unknown> as CheckpointStore,
    ...task.numbering,
    // 7w: this thread only answers waits; the numbering thread numbers.
    ...(task.numberingThread && { numbering: false }),
  });
  const thread = task.numberingThread ? await startNumberingThread(task.url) : undefined;
  return {
    orders: createOrderService({ store }),
    numbers,
    async close() {
      await thread?.stop();
      await Promise.all([store.close(), projectionStore.close()]);
      await Promise.all([pool.end(), projectionPool.end()]);
    },
  };
}

/** Starts the numbering of a 7w service in a worker thread; resolves once it runs. */
async function startNumberingThread(url: string): Promise<{ stop(): Promise<void> }> {
  const worker = new Worker(new URL('./numbering-thread-start.mjs', import.meta.url), { workerData: { url } });
  const next = () =>
    new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
  await next();
  return {
    async stop() {
      const stopped = next();
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}

async function eventStoreDBService(task: ServiceTask): Promise<Service> {
  const { store, checkpoints, close } = await connectEventStoreDB(task.url);
  const orders = createOrderService({ store });
  return { orders, numbers: createOrderNumbers({ store, orders, checkpoints, ...task.numbering }), close };
}

/** Places the share of checkouts at once; each waits for its number. */
async function burst(task: ServiceTask, { orders, numbers }: Service): Promise<ServiceReport> {
  const report: ServiceReport = { placeMs: [], totalMs: [], numbers: [], errors: 0 };
  await Promise.all(
    Array.from({ length: task.count }, async (_, i) => {
      const t0 = performance.now();
      try {
        const placed = await orders.placeOrder(checkoutInput(`cart-${task.run}-${task.index}-${i}`));
        report.placeMs.push(performance.now() - t0);
        report.numbers.push(await numbers.waitForNumber(placed.orderId, { timeoutMs: 10 * 60_000, placedAt: placed.position }));
        report.totalMs.push(performance.now() - t0);
      } catch (error) {
        report.errors++;
        report.firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    }),
  );
  return report;
}

async function main() {
  const task = JSON.parse(process.argv[2] ?? '{}') as ServiceTask;
  const service = await (task.backend === 'eventstoredb' ? eventStoreDBService(task) : postgresService(task));
  const { orders, numbers } = service;
  await numbers.start();
  // Warm-up: connections, prepared statements.
  for (let i = 0; i < 5; i++) {
    const placed = await orders.placeOrder(checkoutInput(`warm-${task.run}-${task.index}-${i}`));
    await numbers.waitForNumber(placed.orderId, { timeoutMs: 60_000, placedAt: placed.position });
  }
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send!('ready');
  await go;
  const report = await burst(task, service);
  await new Promise<void>((resolve) => process.send!(report, () => resolve()));
  // Stay until told: the other services may still need this one's runner (any copy may number).
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  await numbers.stop();
  await service.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
