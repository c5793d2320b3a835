/**
 * The derived side under ordinary PostgreSQL faults: a pool too small for a transaction plus an
 * append, and a 5-second outage of the server under live projections.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createProjectionRunner, health, type ProjectionRunner, type RecordedEvent } from '@ordo/core';
import {
  createOrderNumbers,
  createOrderService,
  notificationRequestsProjection,
  orderNumbersProjection,
  NotificationEvents,
  type OrderService,
} from '@ordo/orders';
import {
  createPostgresReadModels,
  migrateOrderTables,
  notificationOutboxTableProjection,
  orderNumbersTableProjection,
} from '@ordo/orders/postgres';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import { orderInput } from '../projections/helpers.js';
import { dropSchema, testPool, uniqueSchemaName } from '../support/postgres.js';
import { startPostgres, type TestPostgresServer } from '../support/postgres-server.js';
import { waitUntil } from '../support/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function wholeLog(store: PostgresEventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of store.readAll()) events.push(event);
  return events;
}

async function count(pool: pg.Pool, sql: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql);
  return Number(rows[0]!.n);
}

/** Places orders `from`..`to-1`, each until it succeeds (the same key: a retry is absorbed). */
async function placeOrders(orders: OrderService, from: number, to: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < to; i++) {
    for (;;) {
      try {
        ids.push((await orders.placeOrder(orderInput(`${prefix}-${i}`, { prefix }))).orderId);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100)); // the database is away: try again
      }
    }
  }
  return ids;
}

/** Checks every order has exactly one number, numbers are distinct, and both tables match the log. */
async function expectDerivedEqualsLog(store: PostgresEventStore, pool: pg.Pool, schema: string, orderIds: readonly string[]) {
  const log = await wholeLog(store);
  const assigned = log.filter((e) => e.type === 'OrderNumberAssigned');
  expect(assigned.map((e) => (e.data as { orderId: string }).orderId).sort()).toEqual([...orderIds].sort());
  expect(new Set(assigned.map((e) => (e.data as { number: string }).number)).size).toBe(orderIds.length);
  expect(await count(pool, `select count(*) as n from "${schema}".order_numbers`)).toBe(orderIds.length);
  const requested = log.filter((e) => e.type === NotificationEvents.Requested);
  expect(requested).toHaveLength(orderIds.length);
  expect(await count(pool, `select count(*) as n from "${schema}".notification_outbox`)).toBe(requested.length);
}

describe('no pool deadlock: order numbers, notification requests and the read models on one small pool', () => {
  it.each([2, 1])('with a pool of max %i, every order gets its number', async (max) => {
    const schema = uniqueSchemaName('pool');
    const pool = testPool({ max });
    cleanups.push(() => pool.end());
    const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
    cleanups.push(async () => {
      await store.close();
      await dropSchema(pool, schema);
    });
    await store.migrate();
    await migrateOrderTables(pool, schema);
    const checkpoints = new PostgresCheckpointStore({ pool, schema });
    const numbers = createOrderNumbers({ store, checkpoints });
    const notifications = createProjectionRunner({ store, checkpoints, projection: notificationRequestsProjection({ store }) });
    const readModels = createPostgresReadModels({ store });
    const runners = [numbers.runner, notifications, readModels.orderNumbers, readModels.notificationOutbox];
    cleanups.push(() => Promise.all([numbers.stop(), notifications.stop(), readModels.stop()]));
    await Promise.all([numbers.start(), notifications.start(), readModels.start()]);

    const orderIds = await placeOrders(createOrderService({ store }), 0, 100, 'PL');
    await waitUntil(async () => (await count(pool, `select count(*) as n from "${schema}".order_numbers`)) === 100, 'all 100 orders numbered', 60_000);
    await Promise.all(runners.map((r) => r.waitUntilCaughtUp({ timeoutMs: 30_000 })));
    await expectDerivedEqualsLog(store, pool, schema, orderIds);
    for (const runner of runners) expect(runner.failure).toBeUndefined();
  });
});

describe('a 5-second PostgreSQL outage under live projections', () => {
  let server: TestPostgresServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('every projection retries meanwhile, resumes by itself, and ends equal to the log, each event applied once', async () => {
    server = await startPostgres();
    const pool = new pg.Pool({ connectionString: server.url, max: 8 });
    pool.on('error', () => undefined); // idle connections die with the server
    cleanups.push(() => pool.end());
    const schema = 'ordo';
    const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
    cleanups.push(() => store.close());
    await store.migrate();
    await migrateOrderTables(pool, schema);
    const checkpoints = new PostgresCheckpointStore({ pool, schema });
    const backoff = { baseDelayMs: 50, maxDelayMs: 1000 };
    const runners: ProjectionRunner[] = [
      orderNumbersProjection({ store }),
      notificationRequestsProjection({ store }),
      orderNumbersTableProjection({ schema }),
      notificationOutboxTableProjection({ schema }),
    ].map((projection) => createProjectionRunner({ store, checkpoints, projection, backoff, checkpointEvery: 10 }));
    cleanups.push(() => Promise.all(runners.map((r) => r.stop())));
    await Promise.all(runners.map((r) => r.start()));
    const orders = createOrderService({ store });

    const before = await placeOrders(orders, 0, 15, 'OUT');
    await waitUntil(async () => (await count(pool, `select count(*) as n from ${schema}.order_numbers`)) === 15, 'the first orders numbered');

    const started = Date.now();
    await server.halt();
    const during = placeOrders(orders, 15, 30, 'OUT'); // writers keep trying through the outage
    await waitUntil(() => runners.every((r) => r.status().state === 'retrying'), 'every runner to report retrying');
    const outage = health(runners);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5000 - (Date.now() - started))));
    await server.restart();
    const after = await during;
    console.log(`outage: ${Date.now() - started} ms, health during it: ${outage.status}`);

    await waitUntil(async () => (await count(pool, `select count(*) as n from ${schema}.order_numbers`)) === 30, 'every order numbered', 60_000);
    // The requests projection appends after the orders; the outbox table follows those appends.
    await waitUntil(async () => (await count(pool, `select count(*) as n from ${schema}.notification_outbox`)) === 30, 'every request in the outbox', 60_000);
    await Promise.all(runners.map((r) => r.waitUntilCaughtUp({ timeoutMs: 60_000 })));
    await waitUntil(() => runners.every((r) => r.status().state === 'running'), 'every runner to report running', 30_000);

    expect(outage.status).not.toBe('ready');
    expect(outage.reasons).toHaveLength(runners.length);
    for (const runner of runners) {
      expect(runner.failure).toBeUndefined();
      expect(runner.status()).toMatchObject({ state: 'running', consecutiveFailures: 0, lastError: { retried: true } });
    }
    expect(health(runners).status).toBe('ready');
    await expectDerivedEqualsLog(store, pool, schema, [...before, ...after]);
    // Each table event applied once: a row per number and per request, each at its event's position.
    const log = await wholeLog(store);
    const head = log[log.length - 1]!.globalPosition;
    for (const runner of runners) expect(runner.position).toBe(head);
  });
});
