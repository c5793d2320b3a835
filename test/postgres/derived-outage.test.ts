/**
 * The reactors under a 5-second PostgreSQL outage: the notification dispatcher (a sender per
 * channel, some sends failing) and the fulfillment process manager (a provider that refuses, drops
 * and accepts) run while orders are placed and changed before, during and after it. The service
 * retries its calls when the store says so with a typed error, as a real one would. Nobody restarts
 * anything: afterwards every notification is settled once and sent at most once, every submitted
 * order is completed or failed with a reason under one provider request, the runners went through
 * `retrying` and are `running` again, and the reactors hold nothing.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { AppendOutcomeUnknownError, type ProjectionRunner, type RecordedEvent, type ReactorStatus, StoreUnavailableError } from '@ordo/core';
import {
  createFulfillment,
  createNotifications,
  createOrderService,
  defaultNotificationRules,
  FulfillmentEvents,
  fulfillmentKey,
  fulfillmentStream,
  NotificationEvents,
  notificationsFor,
  type Customer,
  type NotificationChannel,
  type NotificationRequest,
  type OrderPlaced,
  type OrderService,
  type Sender,
} from '@ordo/orders';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import { FakeProvider, type Answer } from '../../packages/orders/test/fulfillment/fake-provider.js';
import { startPostgres, type TestPostgresServer } from '../support/postgres-server.js';
import { waitUntil } from '../support/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
let server: TestPostgresServer | undefined;
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await server?.stop();
  server = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls that failed with a typed outage error and were tried again, by error name. */
const serviceRetries: Record<string, number> = {};

/** Runs a call until it succeeds, again after the typed errors a store reports while it is away; any other error fails the test. */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof StoreUnavailableError || error instanceof AppendOutcomeUnknownError)) throw error;
      serviceRetries[error.name] = (serviceRetries[error.name] ?? 0) + 1;
      await sleep(100);
    }
  }
}

/** A hash of a key, to script failures deterministically. */
function hash(text: string): number {
  let h = 7;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}

/** One channel's provider: records every call; fails some keys once, and some always (those are dead-lettered). */
class ChannelSender {
  readonly calls: { key: string; attempt: number; delivered: boolean }[] = [];
  constructor(readonly channel: NotificationChannel) {}

  async send(notification: NotificationRequest, { idempotencyKey, attempt }: { idempotencyKey: string; attempt: number }) {
    expect(notification.channel).toBe(this.channel);
    await sleep(50); // a gateway takes a while: sends are in flight when the database goes away
    const h = hash(idempotencyKey) % 5;
    const delivered = !(h === 0 || (h === 1 && attempt === 1));
    this.calls.push({ key: idempotencyKey, attempt, delivered });
    if (!delivered) throw new Error(`${this.channel} gateway: 502 Bad Gateway`);
  }

  deliveries(key: string): number {
    return this.calls.filter((c) => c.key === key && c.delivered).length;
  }
}

/** What a provider does with an order's n-th call: some refuse for good, some once, some drop the first call. */
function providerScript(index: number, call: number): Answer {
  if (index % 8 === 0) return 'refuse';
  if (index % 8 === 2 && call === 1) return 'refuse';
  if (index % 8 === 4 && call === 1) return 'drop';
  return 'accept';
}

const customer = (i: number): Customer => ({ email: `c${i}@example.com`, phone: `+4930${String(1_000_000 + i)}` });

/**
 * Order `i` as the service runs it, each call until it succeeds (retries carry the same key or command
 * id, so they are absorbed): even orders are submitted to the provider, odd ones confirmed and cancelled.
 */
async function runOrder(orders: OrderService, i: number, indexOf: Map<string, number>): Promise<string> {
  const { orderId } = await retried(() =>
    orders.placeOrder({
      idempotencyKey: `cart-${i}`,
      customer: customer(i),
      currency: 'EUR',
      lines: [{ sku: 'BOARD-GAME', name: 'Board game', quantity: 1, unitPrice: { amount: 3990, currency: 'EUR' } }],
    }),
  );
  indexOf.set(orderId, i);
  if (i % 2 === 0) {
    await retried(() => orders.startSubmission(orderId, { actor: 'checkout', commandId: `submit:${orderId}` }));
  } else {
    await retried(() => orders.changeStatus(orderId, 'confirmed', { actor: 'shop', commandId: `confirm:${orderId}` }));
    await retried(() => orders.cancel(orderId, { actor: 'customer', reason: 'changed my mind', commandId: `cancel:${orderId}` }));
  }
  return orderId;
}

async function runOrders(orders: OrderService, from: number, to: number, indexOf: Map<string, number>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < to; i++) ids.push(await runOrder(orders, i, indexOf));
  return ids;
}

async function wholeLog(store: PostgresEventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of store.readAll()) events.push(event);
  return events;
}

/** Every notification the order events of the log call for, by the one pure rule. */
function expectedNotificationKeys(log: readonly RecordedEvent[]): string[] {
  const customers = new Map<string, Customer>();
  const keys: string[] = [];
  for (const event of log) {
    if (!event.streamName.startsWith('order-')) continue;
    if (event.type === 'OrderPlaced') customers.set(event.streamName, (event.data as OrderPlaced).customer);
    const of = customers.get(event.streamName);
    if (of) keys.push(...notificationsFor(event, of, defaultNotificationRules).map((n) => n.dedupeKey));
  }
  return keys;
}

/** The reactor holds nothing: no step running, none ready, none waiting for a due time. */
const holdsNothing = (status: ReactorStatus) =>
  status.state === 'running' && Object.values(status.inFlight).every((n) => n === 0) && status.ready === 0 && status.due === 0;

describe('a 5-second PostgreSQL outage under the notification dispatcher and fulfillment', () => {
  it('every notification settles once, every submitted order ends with one provider request, and the runtime recovers by itself', async () => {
    server = await startPostgres();
    const pool = new pg.Pool({ connectionString: server.url, max: 10 });
    pool.on('error', () => undefined); // idle connections die with the server
    cleanups.push(() => pool.end());
    // A retry window shorter than the outage, so the service sees the typed errors and retries itself.
    const store = new PostgresEventStore({ pool, schema: 'ordo', pollIntervalMs: 100, retry: { windowMs: 1000 } });
    cleanups.push(() => store.close());
    await store.migrate();
    const checkpoints = new PostgresCheckpointStore({ pool, schema: 'ordo' });

    const senders = { email: new ChannelSender('email'), sms: new ChannelSender('sms') };
    const sender: Sender = { send: (n, options) => senders[n.channel].send(n, options) };
    const notifications = createNotifications({
      store,
      sender,
      checkpoints,
      dispatch: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 200, sendTimeoutMs: 1000, leaseMs: 2000 },
    });
    const indexOf = new Map<string, number>();
    const provider = new FakeProvider((orderId, call) => providerScript(indexOf.get(orderId)!, call));
    const fulfillment = createFulfillment({ store, provider, checkpoints, submissionTimeoutMs: 1500, maxAttempts: 3 });
    cleanups.push(() => Promise.all([notifications.stop(), fulfillment.stop()]));
    await notifications.start();
    await fulfillment.start();
    const runners: [string, ProjectionRunner][] = [
      ['notification requests', notifications.requests],
      ['notification dispatcher', notifications.dispatcher.runner],
      ['fulfillment', fulfillment.runner],
    ];
    const orders = createOrderService({ store });

    const before = await runOrders(orders, 0, 12, indexOf);
    // The outage begins mid-work: some notifications sent, others in flight or waiting for a retry.
    await waitUntil(() => senders.email.calls.length >= 8, 'the first sends');

    const started = Date.now();
    await server.halt();
    const during = runOrders(orders, 12, 24, indexOf); // the service keeps working through the outage
    await waitUntil(() => runners.every(([, r]) => r.status().state === 'retrying'), 'every runner to report retrying', 30_000);
    const statesDuring = runners.map(([name, r]) => `${name}: ${r.status().state}`);
    await sleep(Math.max(0, 5000 - (Date.now() - started)));
    await server.restart();
    const outageMs = Date.now() - started;
    const after = [...(await during), ...(await runOrders(orders, 24, 36, indexOf))];
    const all = [...before, ...after];
    const submitted = all.filter((id) => indexOf.get(id)! % 2 === 0);

    await completeWhatTheProviderHolds(orders, fulfillment, submitted);
    // Conditions, not durations: the log read to its head, every key settled (the deadlines only stop a hang).
    await notifications.waitUntilIdle({ timeoutMs: 90_000 });
    await fulfillment.settle();
    await waitUntil(() => runners.every(([, r]) => r.status().state === 'running'), 'every runner to report running', 60_000);
    await waitUntil(() => holdsNothing(notifications.dispatcher.status()), 'the dispatcher to hold nothing', 60_000);
    await waitUntil(() => holdsNothing(fulfillment.reactor.status()), 'fulfillment to hold nothing', 60_000);
    const recoveredMs = Date.now() - started;
    console.log(
      `outage ${outageMs} ms, everything settled ${recoveredMs} ms after it began; during it: ${statesDuring.join(', ')}; ` +
        `service retries: ${JSON.stringify(serviceRetries)}; dispatcher: ${JSON.stringify(notifications.dispatcher.stats)}; ` +
        `last dispatcher step error: ${notifications.dispatcher.status().lastError?.message ?? 'none'}; ` +
        `last fulfillment step error: ${fulfillment.reactor.status().lastError?.message ?? 'none'}`,
    );

    for (const [name, runner] of runners) {
      expect(runner.failure, name).toBeUndefined();
      expect(runner.status(), name).toMatchObject({ state: 'running', consecutiveFailures: 0 });
    }
    const log = await wholeLog(store);
    await expectNotificationsSettledOnce(store, log, senders);
    await expectFulfilled(store, orders, provider, submitted);
  });
});

/**
 * The provider's webhook: once an order is `submitted`, the provider reports it completed. Polls
 * (with retries) until every submitted order is `completed` or `failed`.
 */
async function completeWhatTheProviderHolds(orders: OrderService, fulfillment: ReturnType<typeof createFulfillment>, ids: readonly string[]) {
  await waitUntil(
    async () => {
      let open = 0;
      for (const orderId of ids) {
        const { status } = await retried(() => orders.getOrder(orderId));
        if (status === 'submitted') {
          await retried(() => fulfillment.providerUpdate(orderId, { state: 'completed' }, { deliveryId: `done:${orderId}` }));
        } else if (status !== 'completed' && status !== 'failed') open++;
      }
      return open === 0;
    },
    'every submitted order completed or failed',
    90_000,
  );
}

/** Each notification the log calls for was requested once, settled once (sent or dead-lettered), and delivered at most once. */
async function expectNotificationsSettledOnce(store: PostgresEventStore, log: readonly RecordedEvent[], senders: Record<NotificationChannel, ChannelSender>) {
  const expected = expectedNotificationKeys(log);
  const requested = log.filter((e) => e.type === NotificationEvents.Requested).map((e) => (e.data as NotificationRequest).dedupeKey);
  expect([...requested].sort()).toEqual([...expected].sort());
  expect(new Set(requested).size).toBe(requested.length);
  let dead = 0;
  for (const key of requested) {
    const { events } = await store.readStream(`notification-${key}`);
    const sent = events.filter((e) => e.type === NotificationEvents.Sent).length;
    const deadLettered = events.filter((e) => e.type === NotificationEvents.DeadLettered).length;
    expect(sent + deadLettered, key).toBe(1);
    dead += deadLettered;
    const channel = (events[0]!.data as NotificationRequest).channel;
    expect(senders[channel].deliveries(key), key).toBe(sent); // never delivered twice, nor delivered and dead-lettered
  }
  expect(dead).toBeGreaterThan(0); // the script's dead letters happened: the check above saw both outcomes
}

/** Every submitted order is completed, or failed with a reason; one request per order key at the provider; every call recorded. */
async function expectFulfilled(store: PostgresEventStore, orders: OrderService, provider: FakeProvider, ids: readonly string[]) {
  const outcomes: Record<string, number> = {};
  for (const orderId of ids) {
    const order = await orders.getOrder(orderId);
    outcomes[order.status] = (outcomes[order.status] ?? 0) + 1;
    expect(['completed', 'failed'], orderId).toContain(order.status);
    if (order.status === 'failed') expect(order.reason, orderId).toEqual(expect.any(String));
    expect(provider.requestsFor(orderId).length, orderId).toBeLessThanOrEqual(1);
    if (order.status === 'completed') expect(provider.requestsFor(orderId), orderId).toEqual([order.providerRequestId]);
    const { events } = await store.readStream(fulfillmentStream(orderId));
    const recorded = events.filter((e) => e.type === FulfillmentEvents.Called).map((e) => (e.data as { attempt: number }).attempt);
    for (const call of provider.callsFor(orderId)) {
      expect(call.idempotencyKey).toBe(fulfillmentKey(orderId));
      const made = provider.callsFor(orderId).filter((c) => c.attempt === call.attempt).length;
      expect(made, `${orderId} calls of attempt ${call.attempt}`).toBeLessThanOrEqual(recorded.filter((a) => a === call.attempt).length);
    }
  }
  expect(outcomes.completed).toBeGreaterThan(0);
  expect(outcomes.failed).toBeGreaterThan(0);
}
