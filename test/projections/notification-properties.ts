import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryCheckpointStore, createProjectionRunner, type EventStore } from '@ordo/core';
import {
  InvalidTransitionError,
  NotificationEvents,
  createNotificationDispatcher,
  createNotifications,
  createOrderService,
  dedupeKeyOf,
  defaultLifecycle,
  defaultNotificationRules,
  foldNotification,
  notificationRequestsProjection,
  notificationStream,
  notificationsFor,
  orderStream,
  type NotificationDispatcher,
  type NotificationRequest,
  type OrderPlaced,
  type OrderService,
  type OrderStatus,
  type OrderStatusChanged,
  type Sender,
} from '@ordo/orders';
import {
  checkpointsFromHead,
  countBy,
  drive,
  eventually,
  hash,
  orderInput,
  prng,
  readLog,
  runToken,
  scheduledStore,
  withScheduledStore,
  withStore,
  type OpenStore,
} from './helpers.js';

/** One call the dispatcher made to the sender, and how the sender answered. */
interface SendCall {
  key: string;
  attempt: number;
  idempotencyKey: string;
  outcome: 'ok' | 'rejected' | 'threw' | 'hung';
  by?: string;
}

type Behaviour = SendCall['outcome'] | 'slow-ok';

/**
 * A sender that records every call and answers as `behave(key, attempt)` says: resolve, reject,
 * throw synchronously, hang forever, or resolve after a few milliseconds.
 */
function recordingSender(calls: SendCall[], behave: (request: NotificationRequest, attempt: number) => Behaviour, by?: string): Sender {
  return {
    send(request, { idempotencyKey, attempt }) {
      const behaviour = behave(request, attempt);
      const outcome = behaviour === 'slow-ok' ? 'ok' : behaviour;
      calls.push({ key: request.dedupeKey, attempt, idempotencyKey, outcome, ...(by !== undefined && { by }) });
      switch (behaviour) {
        case 'ok':
          return Promise.resolve({ id: `msg-${idempotencyKey}` });
        case 'slow-ok':
          return new Promise((resolve) => setTimeout(() => resolve({ id: `msg-${idempotencyKey}` }), 2));
        case 'rejected':
          return Promise.reject(new Error('provider said 503'));
        case 'threw':
          throw new Error('sender bug: thrown synchronously');
        case 'hung':
          return new Promise(() => undefined);
      }
    },
  };
}

/** The keys a store's order events should notify, by the default rules. */
async function expectedKeys(store: EventStore, orderIds: readonly string[]): Promise<Map<string, NotificationRequest>> {
  const expected = new Map<string, NotificationRequest>();
  for (const orderId of orderIds) {
    const { events } = await store.readStream(orderStream(orderId));
    const customer = (events[0]!.data as OrderPlaced).customer;
    for (const event of events) {
      for (const request of notificationsFor(event, customer, defaultNotificationRules)) expected.set(request.dedupeKey, request);
    }
  }
  return expected;
}

/** The notification streams the requests projection created for these orders. */
async function requestedKeys(store: EventStore, orderIds: readonly string[], after: bigint): Promise<string[]> {
  const events = await readLog(
    store,
    { eventTypes: [NotificationEvents.Requested], streamPrefixes: orderIds.map((id) => notificationStream(`${orderStream(id)}:`)) },
    after,
  );
  return events.map((e) => (e.data as NotificationRequest).dedupeKey);
}

/**
 * What a notification stream says about its delivery, checked for shape: one request, attempts
 * numbered 1..n, each attempt reported at most once, at most one terminal event.
 */
async function deliveryOf(store: EventStore, key: string) {
  const { events } = await store.readStream(notificationStream(key));
  const types = events.map((e) => e.type);
  const attempts = events.filter((e) => e.type === NotificationEvents.Attempted).map((e) => (e.data as { attempt: number }).attempt);
  return {
    events,
    types,
    attempts,
    requested: types.filter((t) => t === NotificationEvents.Requested).length,
    sent: types.filter((t) => t === NotificationEvents.Sent).length,
    deadLettered: types.filter((t) => t === NotificationEvents.DeadLettered).length,
    state: foldNotification(events),
  };
}

/**
 * Checks every promise of delivery for `expected`: one request each, exactly one Sent or
 * DeadLettered, attempts 1..n with n ≤ maxAttempts matching the sender's calls one to one, at most
 * one successful send per key, the key passed as the provider's idempotency key, and nothing sent
 * that was not asked for.
 *
 * With `takeovers: 'allowed'` (several dispatchers) a dispatcher may take over a claim whose lease
 * ran out before its owner reported; the stream shows it as a claim followed directly by another.
 * Only then may a key have been sent more than once (the provider's idempotency key is what
 * absorbs that), and at most once more per claim taken over.
 */
async function checkDeliveries(
  store: EventStore,
  expected: ReadonlyMap<string, NotificationRequest>,
  calls: readonly SendCall[],
  maxAttempts: number,
  { takeovers = 'forbidden' }: { takeovers?: 'forbidden' | 'allowed' } = {},
) {
  const callsByKey = new Map<string, SendCall[]>();
  for (const call of calls) {
    expect(call.idempotencyKey).toBe(call.key);
    expect(expected.has(call.key), `sent ${call.key}, which no status change asked for`).toBe(true);
    if (!callsByKey.has(call.key)) callsByKey.set(call.key, []);
    callsByKey.get(call.key)!.push(call);
  }
  for (const [key, request] of expected) {
    const d = await deliveryOf(store, key);
    const keyCalls = callsByKey.get(key) ?? [];
    expect(d.requested, key).toBe(1);
    expect(d.events[0]!.data as NotificationRequest).toMatchObject({
      dedupeKey: key,
      channel: request.channel,
      recipient: request.recipient,
      template: request.template,
    });
    expect(d.sent + d.deadLettered, `${key}: ${d.types.join(',')}`).toBe(1);
    expect(d.attempts, key).toEqual(d.attempts.map((_, i) => i + 1));
    expect(d.attempts.length).toBeLessThanOrEqual(maxAttempts);
    expect(keyCalls.map((c) => c.attempt).sort((a, b) => a - b), key).toEqual(d.attempts);
    const takenOver = d.types.filter((t, i) => t === NotificationEvents.Attempted && d.types[i + 1] === NotificationEvents.Attempted).length;
    if (takeovers === 'forbidden') expect(takenOver, `${key}: ${d.types.join(',')}`).toBe(0);
    const successes = keyCalls.filter((c) => c.outcome === 'ok');
    expect(successes.length, `${key} sent successfully ${successes.length} times`).toBeLessThanOrEqual(1 + takenOver);
    if (d.sent === 1) {
      // The attempt reported as sent is one the sender answered with success.
      const sentAttempt = (d.events.find((e) => e.type === NotificationEvents.Sent)!.data as { attempt: number }).attempt;
      expect(sentAttempt).toBe(d.attempts.length);
      expect(successes.map((c) => c.attempt)).toContain(sentAttempt);
      if (takenOver === 0) expect(successes).toHaveLength(1);
    } else {
      expect(successes.length).toBeLessThanOrEqual(takenOver);
      expect(d.attempts).toHaveLength(maxAttempts);
    }
  }
}

/** Places an order and records its payment (so a refund is a matter of the lifecycle only). */
async function placePaid(orders: OrderService, key: string, contact: { email: boolean; phone: boolean }): Promise<string> {
  const { orderId } = await orders.placeOrder(orderInput(key, contact));
  await orders.recordPayment(orderId, { paymentId: `pay-${key}`, amount: { amount: 950, currency: 'EUR' } });
  return orderId;
}

type Outcome = 'applied' | 'noop' | 'duplicate' | 'invalid';

/** A status change: what every caller sees is success, a no-op, or InvalidTransitionError. Nothing else. */
async function changeStatus(
  orders: OrderService,
  orderId: string,
  to: string,
  commandId: string,
  actor: string,
): Promise<{ outcome: Outcome; commandId: string }> {
  try {
    const change = await orders.changeStatus(orderId, to, { actor, commandId });
    return { outcome: change.duplicate ? 'duplicate' : change.noop ? 'noop' : 'applied', commandId };
  } catch (error) {
    if (error instanceof InvalidTransitionError) return { outcome: 'invalid', commandId };
    throw error;
  }
}

/**
 * Checks an order stream: a chain of status changes the lifecycle allows, none repeating a status,
 * each command applied at most once, and exactly the commands callers saw applied.
 */
async function checkStatusChain(store: EventStore, orderId: string, results: readonly { outcome: Outcome; commandId: string }[]) {
  const { events } = await store.readStream(orderStream(orderId));
  const changes = events.filter((e) => e.type === 'OrderStatusChanged');
  let status: string = defaultLifecycle.initial;
  for (const change of changes) {
    const data = change.data as OrderStatusChanged;
    expect(data.from).toBe(status);
    expect(data.to).not.toBe(data.from);
    expect(defaultLifecycle.can(data.from as OrderStatus, data.to as OrderStatus), `${data.from} -> ${data.to}`).toBe(true);
    status = data.to;
  }
  const eventCommands = changes.map((e) => e.metadata.commandId);
  expect(new Set(eventCommands).size).toBe(eventCommands.length);
  const applied = new Set(results.filter((r) => r.outcome === 'applied').map((r) => r.commandId));
  expect(new Set(eventCommands)).toEqual(applied);
  for (const r of results.filter((r) => r.outcome === 'duplicate')) expect(eventCommands).toContain(r.commandId);
  return changes;
}

interface AdminCommand {
  order: number;
  /** A status, or one of the moves allowed from the status the admin sees (which may be stale by the time it lands). */
  to: string | { next: number };
  /** Sent again later with the same command id (a retry after a lost answer). */
  retry: boolean;
  /** Sent twice at once with different command ids (a double click). */
  doubleClick: boolean;
}

interface NotificationScenario {
  orders: { email: boolean; phone: boolean }[];
  admins: AdminCommand[][];
  sender: { seed: number; failRate: number; hangRate: number; throwRate: number };
  maxAttempts: number;
  restartOutbox: boolean;
}

const statuses = defaultLifecycle.statuses;

const scenarioArb: fc.Arbitrary<NotificationScenario> = fc.record({
  orders: fc.array(
    fc.oneof(fc.constant({ email: true, phone: false }), fc.constant({ email: false, phone: true }), fc.constant({ email: true, phone: true })),
    { minLength: 1, maxLength: 5 },
  ),
  admins: fc.array(
    fc.array(
      fc.record({
        order: fc.nat(),
        // Mostly a move the admin's screen offers, so orders get far; any status now and then.
        to: fc.oneof({ weight: 3, arbitrary: fc.record({ next: fc.nat() }) }, { weight: 1, arbitrary: fc.constantFrom(...statuses) }),
        retry: fc.boolean(),
        doubleClick: fc.boolean(),
      }),
      { minLength: 1, maxLength: 7 },
    ),
    { minLength: 1, maxLength: 4 },
  ),
  sender: fc.record({
    seed: fc.integer(),
    failRate: fc.constantFrom(0, 0.3, 0.6, 0.9),
    hangRate: fc.constantFrom(0, 0.1),
    throwRate: fc.constantFrom(0, 0.2),
  }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
  restartOutbox: fc.boolean(),
});

/** Fast dispatcher settings: backoff of a millisecond or two, a hung send gives up quickly. */
const fastDispatch = { baseDelayMs: 1, maxDelayMs: 4, sendTimeoutMs: 15, leaseMs: 5_000 };

/**
 * The notifications property: racing admins (valid and invalid moves), retried commands, double
 * clicks, and a sender that fails, throws or hangs at random. Each distinct status transition with
 * a rule yields exactly one sent or dead-lettered notification per channel with a contact, no key
 * is sent successfully twice, and no status change fails because of the sender.
 */
export function notificationsProperty(open: OpenStore, { runs = 50 }: { runs?: number } = {}): void {
  describe('notifications under racing admins and a flaky sender (property)', () => {
    it('each distinct transition with a rule: exactly one sent or dead-lettered notification per channel; no key sent twice', async () => {
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), scenarioArb, (s, scenario) =>
          withScheduledStore(open, s, async (inner) => {
            const token = runToken();
            const dispatcherName = `dispatcher-${token}`;
            const start = await inner.headPosition();
            const checkpoints = await checkpointsFromHead(inner, 'notification-requests', dispatcherName);
            const setup = createOrderService({ store: inner });
            const orderIds: string[] = [];
            for (const [i, contact] of scenario.orders.entries()) orderIds.push(await placePaid(setup, `nt-${token}-${i}`, contact));
            const index = new Map(orderIds.map((id, i) => [orderStream(id), i]));

            const calls: SendCall[] = [];
            const { seed, failRate, hangRate, throwRate } = scenario.sender;
            const sender = recordingSender(calls, (request, attempt) => {
              // Decided by the seed, the order's index and the attempt: reproducible whatever the timing.
              const [stream, version, channel] = request.dedupeKey.split(':');
              const roll = prng(hash(`${seed}:${index.get(stream!)}:${version}:${channel}:${attempt}`))();
              if (roll < hangRate) return 'hung';
              if (roll < hangRate + throwRate * failRate) return 'threw';
              if (roll < hangRate + failRate) return 'rejected';
              return 'ok';
            });
            const notifications = createNotifications({
              store: inner,
              sender,
              checkpoints,
              dispatch: { ...fastDispatch, name: dispatcherName, maxAttempts: scenario.maxAttempts },
            });
            await notifications.start();

            // Admins race through the scheduler; the outbox runs on its own meanwhile.
            const orders = createOrderService({ store: scheduledStore(inner, s) });
            const results = orderIds.map(() => [] as { outcome: Outcome; commandId: string }[]);
            let nextCommand = 0;
            const admin = async (commands: AdminCommand[], a: number) => {
              for (const command of commands) {
                const o = command.order % orderIds.length;
                let to: string;
                if (typeof command.to === 'string') {
                  to = command.to;
                } else {
                  const seen = (await orders.getOrder(orderIds[o]!)).status as OrderStatus;
                  const offered = defaultLifecycle.allowed(seen);
                  to = offered[command.to.next % Math.max(1, offered.length)] ?? seen;
                }
                const issue = async (commandId: string) => {
                  results[o]!.push(await changeStatus(orders, orderIds[o]!, to, commandId, `admin-${a}`));
                };
                const commandId = `cmd-${token}-${nextCommand++}`;
                await (command.doubleClick ? Promise.all([issue(commandId), issue(`cmd-${token}-${nextCommand++}`)]) : issue(commandId));
                if (command.retry) await issue(commandId);
              }
            };
            const work = Promise.all([
              ...scenario.admins.map(admin),
              ...(scenario.restartOutbox
                ? [s.schedule(Promise.resolve(), 'restart the outbox').then(async () => {
                    await notifications.stop();
                    await notifications.start();
                  })]
                : []),
            ]);
            await drive(s, work);
            await notifications.waitUntilIdle({ timeoutMs: 30_000 });
            await notifications.stop();

            for (const [o, orderId] of orderIds.entries()) await checkStatusChain(inner, orderId, results[o]!);
            const expected = await expectedKeys(inner, orderIds);
            const requested = await requestedKeys(inner, orderIds, start);
            expect([...countBy(requested, (k) => k).values()].every((n) => n === 1)).toBe(true);
            expect(new Set(requested)).toEqual(new Set(expected.keys()));
            await checkDeliveries(inner, expected, calls, scenario.maxAttempts);
          }),
        ),
        { numRuns: runs },
      );
    });
  });
}

/** Notification rules, keys, the dispatcher's retries, isolation from the write path, two dispatchers, restarts. */
export function notificationsSuite(open: OpenStore): void {
  describe('notifications', () => {
    it('the dedupe key derives from the cause: same event, same key; another event, another key', () => {
      const customer = { email: 'ada@example.com', phone: '+4915112345678' };
      const event = (version: bigint, to: string, id = 'e') => ({
        id: `${id}${version}`,
        type: 'OrderStatusChanged',
        data: { orderId: 'o', from: 'ready', to, by: 'a', at: '2026-11-23T12:00:00Z' },
        streamName: 'order-o',
        streamVersion: version,
      });
      const first = notificationsFor(event(5n, 'out_for_delivery'), customer, defaultNotificationRules);
      expect(first.map((r) => r.dedupeKey)).toEqual(['order-o:5:email', 'order-o:5:sms']);
      expect(first.map((r) => r.recipient)).toEqual([customer.email, customer.phone]);
      // Handed over again (a replay, a second copy): the same keys.
      expect(notificationsFor(event(5n, 'out_for_delivery'), customer, defaultNotificationRules)).toEqual(first);
      // Another transition to the same status later: other keys.
      expect(notificationsFor(event(9n, 'out_for_delivery'), customer, defaultNotificationRules).map((r) => r.dedupeKey)).toEqual([
        'order-o:9:email',
        'order-o:9:sms',
      ]);
      expect(dedupeKeyOf('order-o', 5n, 'sms')).toBe('order-o:5:sms');
      // Only channels with a contact; statuses without a rule notify nobody.
      expect(notificationsFor(event(5n, 'out_for_delivery'), { email: 'ada@example.com' }, defaultNotificationRules).map((r) => r.channel)).toEqual(['email']);
      expect(notificationsFor(event(5n, 'preparing'), customer, defaultNotificationRules)).toEqual([]);
    });

    it('a failing sender is retried with exponential backoff, then dead-lettered; every attempt is an event', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const name = `dispatcher-${token}`;
        const checkpoints = await checkpointsFromHead(store, 'notification-requests', name);
        const orders = createOrderService({ store });
        const orderId = await placePaid(orders, `bo-${token}`, { email: true, phone: false });
        const calls: SendCall[] = [];
        // A clock that moves a whole second at each reading, and the top of the jitter range: each
        // retryAt is a reading plus the backoff, so the backoff is what is left over whole seconds.
        const t0 = Date.parse('2026-11-23T12:00:00.000Z');
        let readings = 0;
        const now = () => new Date(t0 + 1000 * readings++);
        const notifications = createNotifications({
          store,
          checkpoints,
          sender: recordingSender(calls, () => 'rejected'),
          dispatch: { name, maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 3, sendTimeoutMs: 1000, now, random: () => 1 },
        });
        await notifications.start();
        await notifications.waitUntilIdle({ timeoutMs: 20_000 });
        await notifications.stop();

        const key = dedupeKeyOf(orderStream(orderId), 0n, 'email');
        const d = await deliveryOf(store, key);
        expect(d.types).toEqual([
          'NotificationRequested',
          ...['1', '2', '3'].flatMap(() => ['NotificationAttempted', 'NotificationFailed']),
          'NotificationAttempted',
          'NotificationDeadLettered',
        ]);
        const failed = d.events.filter((e) => e.type === NotificationEvents.Failed).map((e) => e.data as { attempt: number; error: string; retryAt: string });
        expect(failed.map((f) => f.attempt)).toEqual([1, 2, 3]);
        expect(failed.map((f) => f.error)).toEqual(Array(3).fill('provider said 503'));
        // 1, 2, then 4 capped at 3 milliseconds.
        expect(failed.map((f) => (Date.parse(f.retryAt) - t0) % 1000)).toEqual([1, 2, 3]);
        expect(d.events[d.events.length - 1]!.data).toMatchObject({ attempts: 4, lastError: 'provider said 503' });
        expect(calls.map((c) => [c.key, c.attempt, c.idempotencyKey])).toEqual([1, 2, 3, 4].map((n) => [key, n, key]));
        expect(notifications.dispatcher.stats).toMatchObject({ sent: 0, failedAttempts: 3, deadLettered: 1, inFlight: 0 });
      }));

    for (const behaviour of ['hung', 'threw'] as const) {
      it(`a sender that ${behaviour === 'hung' ? 'never answers' : 'throws'} never fails, blocks or holds up a status change`, () =>
        withStore(open, async (store) => {
          const token = runToken();
          const name = `dispatcher-${token}`;
          const checkpoints = await checkpointsFromHead(store, 'notification-requests', name);
          const calls: SendCall[] = [];
          const notifications = createNotifications({
            store,
            checkpoints,
            sender: recordingSender(calls, () => behaviour),
            dispatch: { ...fastDispatch, name, maxAttempts: 2 },
          });
          await notifications.start();
          const orders = createOrderService({ store });
          const orderId = await placePaid(orders, `hs-${token}`, { email: true, phone: true });
          // Wait until the sender is stuck on (or has thrown at) the first notification.
          await eventually(() => calls.length > 0, 'the sender was called');
          for (const to of ['confirmed', 'preparing', 'ready', 'out_for_delivery', 'delivered']) {
            const change = await orders.changeStatus(orderId, to, { actor: 'admin' });
            expect(change.applied).toBe(true);
          }
          expect((await orders.getOrder(orderId)).status).toBe('delivered');
          await notifications.waitUntilIdle({ timeoutMs: 20_000 });
          await notifications.stop();
          const expected = await expectedKeys(store, [orderId]);
          expect(expected.size).toBe(5); // placed, confirmed, out_for_delivery (email + sms), delivered
          await checkDeliveries(store, expected, calls, 2);
          for (const key of expected.keys()) {
            const d = await deliveryOf(store, key);
            expect(d.deadLettered).toBe(1);
            expect(d.state.lastError).toBe(behaviour === 'hung' ? 'send timed out after 15 ms' : 'sender bug: thrown synchronously');
          }
        }));
    }

    it('a slow send does not hold up other notifications', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const name = `dispatcher-${token}`;
        const checkpoints = await checkpointsFromHead(store, 'notification-requests', name);
        const orders = createOrderService({ store });
        const slowOrder = await placePaid(orders, `slow-${token}`, { email: true, phone: false });
        const slowKey = dedupeKeyOf(orderStream(slowOrder), 0n, 'email');
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        const sent: string[] = [];
        const notifications = createNotifications({
          store,
          checkpoints,
          sender: {
            async send(request) {
              if (request.dedupeKey === slowKey) await released;
              sent.push(request.dedupeKey);
            },
          },
          dispatch: { ...fastDispatch, name, sendTimeoutMs: 60_000, leaseMs: 120_000 },
        });
        await notifications.start();
        const others = [];
        for (let i = 0; i < 3; i++) others.push(await placePaid(orders, `fast-${token}-${i}`, { email: true, phone: false }));
        const otherKeys = others.map((id) => dedupeKeyOf(orderStream(id), 0n, 'email'));
        await eventually(async () => {
          for (const key of otherKeys) if ((await deliveryOf(store, key)).sent !== 1) return false;
          return true;
        }, 'the other notifications are sent');
        expect(sent).toEqual(expect.arrayContaining(otherKeys));
        expect(sent).not.toContain(slowKey);
        release();
        await notifications.waitUntilIdle({ timeoutMs: 20_000 });
        await notifications.stop();
        expect((await deliveryOf(store, slowKey)).sent).toBe(1);
      }));

    it('property: two dispatchers at once never send the same attempt, and each notification is sent once', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.scheduler(),
          fc.array(fc.constantFrom('confirmed', 'cancelled', 'out_for_delivery'), { minLength: 1, maxLength: 4 }),
          fc.boolean(),
          fc.integer(),
          (s, targets, sharedCheckpoint, seed) =>
            withScheduledStore(open, s, async (inner) => {
              const token = runToken();
              const start = await inner.headPosition();
              const requests = await checkpointsFromHead(inner, 'notification-requests');
              const orders = createOrderService({ store: inner });
              const orderIds: string[] = [];
              for (const [i, to] of targets.entries()) {
                const orderId = await placePaid(orders, `two-${token}-${i}`, { email: true, phone: true });
                if (to === 'out_for_delivery') {
                  for (const step of ['confirmed', 'preparing', 'ready', 'out_for_delivery']) await orders.changeStatus(orderId, step);
                } else {
                  await orders.changeStatus(orderId, to);
                }
                orderIds.push(orderId);
              }
              const runner = createProjectionRunner({ store: inner, checkpoints: requests, projection: notificationRequestsProjection({ store: inner }) });
              await runner.start();
              await runner.waitUntilCaughtUp({ timeoutMs: 20_000 });
              await runner.stop();

              const calls: SendCall[] = [];
              const random = prng(seed);
              const store = scheduledStore(inner, s);
              const shared = new MemoryCheckpointStore();
              const dispatchers: NotificationDispatcher[] = [];
              for (const by of ['a', 'b']) {
                const checkpoints = sharedCheckpoint ? shared : new MemoryCheckpointStore();
                const name = `dispatcher-${token}`;
                if ((await checkpoints.read(name)) === null) await checkpoints.store(name, start, null);
                dispatchers.push(
                  createNotificationDispatcher({
                    store,
                    checkpoints,
                    name,
                    sender: recordingSender(calls, () => (random() < 0.3 ? 'rejected' : 'slow-ok'), by),
                    maxAttempts: 5,
                    baseDelayMs: 1,
                    maxDelayMs: 2,
                    sendTimeoutMs: 25,
                    leaseMs: 250,
                  }),
                );
              }
              const work = (async () => {
                await Promise.all(dispatchers.map((d) => d.start()));
                await Promise.all(dispatchers.map((d) => d.waitUntilIdle({ timeoutMs: 30_000 })));
                await Promise.all(dispatchers.map((d) => d.stop()));
              })();
              await drive(s, work);

              const attempts = countBy(calls, (c) => `${c.key}#${c.attempt}`);
              expect([...attempts].filter(([, n]) => n > 1)).toEqual([]);
              const expected = await expectedKeys(inner, orderIds);
              await checkDeliveries(inner, expected, calls, 5, { takeovers: 'allowed' });
            }),
        ),
        { numRuns: 12 },
      );
    });

    it('a dispatcher stopped mid-way and restarted from its checkpoint delivers the rest, sending no key twice', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const name = `dispatcher-${token}`;
        const checkpoints = await checkpointsFromHead(store, 'notification-requests', name);
        const orders = createOrderService({ store });
        const orderIds: string[] = [];
        for (let i = 0; i < 6; i++) orderIds.push(await placePaid(orders, `rs-${token}-${i}`, { email: true, phone: i % 2 === 0 }));
        for (const orderId of orderIds.slice(0, 3)) await orders.changeStatus(orderId, 'cancelled');
        const runner = createProjectionRunner({ store, checkpoints, projection: notificationRequestsProjection({ store }) });
        await runner.start();
        await runner.waitUntilCaughtUp({ timeoutMs: 20_000 });
        await runner.stop();
        const expected = await expectedKeys(store, orderIds);
        expect(expected.size).toBe(6 + 3 + 2); // placed: 6 emails; cancelled: 3 emails and 2 text messages

        // The first dispatcher: the first attempt of every second notification fails, and its retry is
        // far off; the others are sent. It is stopped while those wait.
        const calls: SendCall[] = [];
        const keys = [...expected.keys()];
        const failFirst = new Set(keys.filter((_, i) => i % 2 === 1));
        const behave = (request: NotificationRequest, attempt: number): Behaviour => (failFirst.has(request.dedupeKey) && attempt === 1 ? 'rejected' : 'ok');
        const first = createNotificationDispatcher({
          store,
          checkpoints,
          name,
          sender: recordingSender(calls, behave, 'first'),
          maxAttempts: 3,
          baseDelayMs: 3_600_000,
          random: () => 1,
        });
        await first.start();
        await eventually(async () => {
          for (const key of keys) {
            const d = await deliveryOf(store, key);
            if (d.sent === 0 && !(failFirst.has(key) && d.state.retryAt !== undefined)) return false;
          }
          return true;
        }, 'first round done');
        await first.stop();
        const unsettled = await unsettledPositions(store, keys);
        expect(unsettled.length).toBe(failFirst.size);
        // The checkpoint stays below every notification still waiting for its retry.
        expect(await checkpoints.read(name)).toBeLessThan(unsettled[0]!);

        // The second dispatcher (an hour later, so the retries are due) picks up from the checkpoint.
        const second = createNotificationDispatcher({
          store,
          checkpoints,
          name,
          sender: recordingSender(calls, behave, 'second'),
          maxAttempts: 3,
          baseDelayMs: 1,
          now: () => new Date(Date.now() + 3_600_000),
        });
        await second.start();
        await second.waitUntilIdle({ timeoutMs: 20_000 });
        await second.stop();
        await checkDeliveries(store, expected, calls, 3);
        for (const key of keys) expect((await deliveryOf(store, key)).sent, key).toBe(1);
        expect(calls.filter((c) => c.by === 'second').map((c) => c.key).sort()).toEqual([...failFirst].sort());
      }));

    it('a notification waiting for its retry holds no slot, and stop() does not wait for the retry', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const name = `dispatcher-${token}`;
        const checkpoints = await checkpointsFromHead(store, 'notification-requests', name);
        const orders = createOrderService({ store });
        const orderIds: string[] = [];
        for (let i = 0; i < 3; i++) orderIds.push(await placePaid(orders, `st-${token}-${i}`, { email: true, phone: false }));
        const runner = createProjectionRunner({ store, checkpoints, projection: notificationRequestsProjection({ store }) });
        await runner.start();
        await runner.waitUntilCaughtUp({ timeoutMs: 20_000 });
        await runner.stop();
        const keys = orderIds.map((id) => dedupeKeyOf(orderStream(id), 0n, 'email'));

        // One slot for e-mail; the first notification fails and its retry is an hour away: the
        // others still get the slot, because waiting for a retry holds none.
        const calls: SendCall[] = [];
        const first = createNotificationDispatcher({
          store,
          checkpoints,
          name,
          sender: recordingSender(calls, (request) => (request.dedupeKey === keys[0] ? 'rejected' : 'ok')),
          concurrency: 1,
          baseDelayMs: 3_600_000,
          maxDelayMs: 3_600_000,
          random: () => 1,
        });
        await first.start();
        await eventually(async () => (await deliveryOf(store, keys[0]!)).state.retryAt !== undefined, 'first attempt failed');
        await eventually(async () => (await deliveryOf(store, keys[1]!)).sent === 1 && (await deliveryOf(store, keys[2]!)).sent === 1, 'the others are sent');
        expect(first.status()).toMatchObject({ state: 'running', due: 1, inFlight: {} });
        let stopped = false;
        const stopping = first.stop().then(() => (stopped = true));
        await eventually(() => stopped, 'stop() returned while a retry is an hour away');
        await stopping;
        expect(calls.map((c) => `${c.key} #${c.attempt} ${c.outcome}`).sort()).toEqual(
          [`${keys[0]} #1 rejected`, `${keys[1]} #1 ok`, `${keys[2]} #1 ok`].sort(),
        );

        // Nothing was lost: a dispatcher an hour later delivers the one left.
        const second = createNotificationDispatcher({
          store,
          checkpoints,
          name,
          sender: recordingSender(calls, () => 'ok'),
          now: () => new Date(Date.now() + 2 * 3_600_000),
        });
        await second.start();
        await second.waitUntilIdle({ timeoutMs: 20_000 });
        await second.stop();
        for (const key of keys) expect((await deliveryOf(store, key)).sent, key).toBe(1);
        expect(calls.slice(3).map((c) => `${c.key} #${c.attempt} ${c.outcome}`)).toEqual([`${keys[0]} #2 ok`]);
      }));

    it('a claim left by a crashed dispatcher is taken over after its lease, without exceeding maxAttempts', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const name = `dispatcher-${token}`;
        const checkpoints = await checkpointsFromHead(store, 'notification-requests', name);
        const orders = createOrderService({ store });
        const early = await placePaid(orders, `ca-${token}-0`, { email: true, phone: false });
        const late = await placePaid(orders, `ca-${token}-1`, { email: true, phone: false });
        const runner = createProjectionRunner({ store, checkpoints, projection: notificationRequestsProjection({ store }) });
        await runner.start();
        await runner.waitUntilCaughtUp({ timeoutMs: 20_000 });
        await runner.stop();

        // What a dispatcher that died mid-send leaves behind: a claim whose lease has run out, for
        // attempt 1 of 3 on one notification, and for attempt 3 of 3 (after two failures) on the other.
        const past = new Date(Date.now() - 60_000).toISOString();
        const earlyKey = dedupeKeyOf(orderStream(early), 0n, 'email');
        const lateKey = dedupeKeyOf(orderStream(late), 0n, 'email');
        const claim = (attempt: number) => ({
          id: randomUUID(),
          type: NotificationEvents.Attempted,
          data: { attempt, leaseUntil: past, dispatcher: 'crashed' },
        });
        const failure = (attempt: number) => ({
          id: randomUUID(),
          type: NotificationEvents.Failed,
          data: { attempt, error: 'provider said 503', retryAt: past },
        });
        await store.appendToStream(notificationStream(earlyKey), [claim(1)], { expectedVersion: 0n });
        await store.appendToStream(notificationStream(lateKey), [claim(1), failure(1), claim(2), failure(2), claim(3)], { expectedVersion: 0n });

        const calls: SendCall[] = [];
        const sender = recordingSender(calls, () => 'ok');
        const dispatcher = createNotificationDispatcher({ store, checkpoints, name, sender, maxAttempts: 3, ...fastDispatch });
        await dispatcher.start();
        await dispatcher.waitUntilIdle({ timeoutMs: 20_000 });
        await dispatcher.stop();

        expect(calls.map((c) => [c.key, c.attempt])).toEqual([[earlyKey, 2]]);
        const e = await deliveryOf(store, earlyKey);
        expect(e.attempts).toEqual([1, 2]);
        expect(e.sent).toBe(1);
        const l = await deliveryOf(store, lateKey);
        expect(l.attempts).toEqual([1, 2, 3]);
        expect(l.deadLettered).toBe(1);
        expect(l.sent).toBe(0);
      }));
  });
}

/** Global positions of the requests among `keys` that are neither sent nor dead-lettered, ascending. */
async function unsettledPositions(store: EventStore, keys: readonly string[]): Promise<bigint[]> {
  const positions: bigint[] = [];
  for (const key of keys) {
    const d = await deliveryOf(store, key);
    if (d.state.settled === undefined) positions.push(d.events[0]!.globalPosition);
  }
  return positions.sort((a, b) => (a < b ? -1 : 1));
}
