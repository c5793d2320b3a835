import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fold,
  MemoryEventStore,
  OrdoError,
  WrongExpectedVersionError,
  type EventStore,
  type RecordedEvent,
} from '@ordo/core';
import {
  createOrderDecider,
  createOrderService,
  defaultLifecycle,
  InvalidTransitionError,
  orderEventSchemas,
  orderStream,
  type CommandOptions,
  type OrderChange,
  type OrderEvent,
  type OrderService,
  type OrderStatus,
} from '@ordo/orders';
import { pathTo, placeInput } from './fixtures.js';

const NUM_RUNS = 200;
const RETRY = { maxAttempts: 25, baseDelayMs: 0, maxDelayMs: 0 };
const decider = createOrderDecider(defaultLifecycle);
const statuses = defaultLifecycle.statuses;
const KEYS = ['cart-1', 'cart-2', 'cart-3'] as const;
const NOT_PLACED = '0b5f4a36-7d0e-4c1e-9f3a-2b6c8d9e0f11';

// ---- a model of what callers send, valid and invalid ------------------------------------------

/** Which order a command names: one of the keys' orders, one never placed, or a malformed id. */
type Target = number | 'not-placed' | 'malformed';

type Command =
  | { kind: 'place'; key: number; variant: 0 | 1 | 2 }
  | { kind: 'status'; target: Target; to: string; reason?: string }
  | { kind: 'cancel'; target: Target; reason?: string }
  | { kind: 'pay'; target: Target; paymentId: string; amount: number; currency: string }
  | { kind: 'start'; target: Target }
  | { kind: 'provider'; target: Target; requestId: string }
  | { kind: 'processing'; target: Target }
  | { kind: 'complete'; target: Target }
  | { kind: 'fail'; target: Target; reason?: string }
  | { kind: 'assign'; target: Target; number: string };

const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: KEYS.length - 1 }) },
  { weight: 1, arbitrary: fc.constantFrom<Target>('not-placed', 'malformed') },
);
const reasonArb = fc.option(fc.constantFrom('customer called', 'out of stock', ''), { nil: undefined });

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('place' as const), key: fc.integer({ min: 0, max: KEYS.length - 1 }), variant: fc.constantFrom(0, 0, 1, 2) as fc.Arbitrary<0 | 1 | 2> }),
  {
    weight: 4,
    arbitrary: fc.record(
      { kind: fc.constant('status' as const), target: targetArb, to: fc.constantFrom(...statuses, 'shipped', ''), reason: reasonArb },
      { requiredKeys: ['kind', 'target', 'to'] },
    ),
  },
  fc.record({ kind: fc.constant('cancel' as const), target: targetArb, reason: reasonArb }, { requiredKeys: ['kind', 'target'] }),
  fc.record({
    kind: fc.constant('pay' as const),
    target: targetArb,
    paymentId: fc.constantFrom('pay-1', 'pay-2', ''),
    amount: fc.constantFrom(2150, 100, 0, -1, 1.5),
    currency: fc.constantFrom('EUR', 'EUR', 'USD'),
  }),
  fc.record({ kind: fc.constant('start' as const), target: targetArb }),
  fc.record({ kind: fc.constant('provider' as const), target: targetArb, requestId: fc.constantFrom('req-1', 'req-2') }),
  fc.record({ kind: fc.constant('processing' as const), target: targetArb }),
  fc.record({ kind: fc.constant('complete' as const), target: targetArb }),
  fc.record({ kind: fc.constant('fail' as const), target: targetArb, reason: reasonArb }, { requiredKeys: ['kind', 'target'] }),
  fc.record({ kind: fc.constant('assign' as const), target: targetArb, number: fc.constantFrom('A-20260301-0001', 'A-20260301-0002', '') }),
);

const VARIANT_LINES = [
  placeInput().lines,
  [{ sku: 'SALAD', name: 'Salad', quantity: 1, unitPrice: { amount: 700, currency: 'EUR' } }],
  [{ sku: 'PIZZA-M', name: 'Pizza Margherita', quantity: 0, unitPrice: { amount: 950, currency: 'EUR' } }], // invalid
];

function orderIdOf(orders: OrderService, target: Target): string {
  if (target === 'not-placed') return NOT_PLACED;
  if (target === 'malformed') return 'order-1';
  return orders.orderIdFor(KEYS[target]!);
}

/** Sends `command` through the service. */
function send(orders: OrderService, command: Command, options: CommandOptions = {}): Promise<OrderChange> {
  if (command.kind === 'place') {
    return orders.placeOrder(placeInput({ idempotencyKey: KEYS[command.key]!, lines: VARIANT_LINES[command.variant]! }), options);
  }
  const id = orderIdOf(orders, command.target);
  const withReason = (reason: string | undefined) => ({ ...options, ...(reason !== undefined && { reason }) });
  switch (command.kind) {
    case 'status':
      return orders.changeStatus(id, command.to, withReason(command.reason));
    case 'cancel':
      return orders.cancel(id, withReason(command.reason) as CommandOptions & { reason: string });
    case 'pay':
      return orders.recordPayment(id, { paymentId: command.paymentId, amount: { amount: command.amount, currency: command.currency } }, options);
    case 'start':
      return orders.startSubmission(id, options);
    case 'provider':
      return orders.recordProviderRequest(id, command.requestId, options);
    case 'processing':
      return orders.markProcessing(id, options);
    case 'complete':
      return orders.completeFulfillment(id, options);
    case 'fail':
      return orders.failFulfillment(id, withReason(command.reason) as CommandOptions & { reason: string });
    case 'assign':
      return orders.assignNumber(id, { number: command.number, prefix: 'A', day: '20260301' }, options);
  }
}

type Outcome = { ok: true; change: OrderChange } | { ok: false; error: unknown };

async function attempt(promise: Promise<OrderChange>): Promise<Outcome> {
  try {
    return { ok: true, change: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A refusal a caller is meant to handle; anything else is a bug. */
function expectDomainError(error: unknown, command: unknown): void {
  if (!(error instanceof OrdoError) || error instanceof WrongExpectedVersionError) {
    throw new Error(`${JSON.stringify(command)} failed with an unexpected error: ${String(error)}`, { cause: error });
  }
}

function newService(store: EventStore = new MemoryEventStore()) {
  let tick = 0;
  const clock = () => new Date(Date.UTC(2026, 2, 1, 10, 0, tick++));
  return { store, orders: createOrderService({ store, clock, retry: RETRY }) };
}

async function streamOf(store: EventStore, orderId: string): Promise<RecordedEvent[]> {
  return (await store.readStream(orderStream(orderId))).events;
}

const foldStream = (events: RecordedEvent[]) => fold(decider, events as unknown as OrderEvent[]);

/**
 * Every stored event passes its schema, the stream starts with its only OrderPlaced, and every
 * OrderStatusChanged starts where the order was and is a move the lifecycle allows.
 */
function expectValidStream(events: RecordedEvent[]): void {
  expect(events[0]?.type).toBe('OrderPlaced');
  expect(events.filter((e) => e.type === 'OrderPlaced')).toHaveLength(1);
  let status: OrderStatus = defaultLifecycle.initial;
  for (const event of events) {
    const schema = orderEventSchemas[event.type as keyof typeof orderEventSchemas];
    expect(schema, `schema for ${event.type}`).toBeDefined();
    const parsed = schema.safeParse(event.data);
    expect(parsed.success, `${event.type} v${event.streamVersion}: ${parsed.error?.message}`).toBe(true);
    if (event.type === 'OrderStatusChanged') {
      const { from, to } = event.data as { from: OrderStatus; to: OrderStatus };
      expect(from, `v${event.streamVersion} starts where the order was`).toBe(status);
      expect(defaultLifecycle.can(from, to), `${from} → ${to} is allowed`).toBe(true);
      status = to;
    }
  }
}

/** Brings order `key` to `status` along an allowed path, paid so that a refund is possible. */
async function driveTo(orders: OrderService, status: string, key = 0): Promise<string> {
  const { orderId } = await orders.placeOrder(placeInput({ idempotencyKey: KEYS[key]! }));
  await orders.recordPayment(orderId, { paymentId: 'pay-0', amount: { amount: 2150, currency: 'EUR' } });
  const path = pathTo(status as never) as string[];
  for (const next of path.slice(1)) await orders.changeStatus(orderId, next, { actor: 'setup' });
  return orderId;
}

// ---- (a) state is the fold of the log, and the log is always valid ------------------------------

describe('order properties', () => {
  it('for any commands, valid or not, state is the fold of the stored events and every stored event is valid', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 40 }), async (commands) => {
        const { store, orders } = newService();
        for (const command of commands) {
          const head = await store.headPosition();
          const outcome = await attempt(send(orders, command));
          if (!outcome.ok) {
            expectDomainError(outcome.error, command);
            expect(await store.headPosition(), 'a refused command writes nothing').toBe(head);
            continue;
          }
          const { change } = outcome;
          const events = await streamOf(store, change.order.id);
          expect(change.order).toEqual(foldStream(events));
          if (change.applied) {
            expect(change.position).toBe(await store.headPosition());
            expect(events.at(-1)!.globalPosition).toBe(change.position);
          } else {
            expect(await store.headPosition(), 'a no-op writes nothing').toBe(head);
          }
        }
        for (const key of KEYS) {
          const orderId = orders.orderIdFor(key);
          const events = await streamOf(store, orderId);
          if (events.length === 0) continue;
          expectValidStream(events);
          expect(await orders.getOrder(orderId)).toEqual(foldStream(events));
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  // ---- (b) a command that succeeded, sent again, changes nothing --------------------------------

  it('from any reachable state, a command sent again (new command id) after it succeeded writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...statuses),
        fc.array(commandArb, { maxLength: 10 }),
        commandArb,
        async (status, before, command) => {
          const { store, orders } = newService();
          await driveTo(orders, status);
          for (const c of before) await attempt(send(orders, c));

          const first = await attempt(send(orders, command, { commandId: 'first' }));
          const head = await store.headPosition();
          const again = await attempt(send(orders, command, { commandId: randomUUID() }));
          expect(await store.headPosition(), 'sending again writes nothing').toBe(head);

          if (!first.ok) {
            expectDomainError(first.error, command);
            expect(again.ok, 'a refused command is refused again').toBe(false);
            if (!again.ok) expect((again.error as Error).name).toBe((first.error as Error).name);
            return;
          }
          expect(again.ok, `sent again: ${again.ok ? '' : String(again.error)}`).toBe(true);
          if (!again.ok) return;
          expect(again.change.applied).toBe(false);
          expect(again.change.events).toEqual([]);
          expect(again.change.order).toEqual(first.change.order);

          // The same command id again is recognised as a retry of the first.
          const retried = await attempt(send(orders, command, { commandId: 'first' }));
          expect(await store.headPosition()).toBe(head);
          expect(retried.ok && retried.change.applied).toBe(false);
          if (first.change.applied && retried.ok) {
            expect(retried.change.duplicate).toBe(true);
            expect(retried.change.events).toEqual(first.change.events);
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  // ---- (c) concurrent admins on one order --------------------------------------------------------

  it('concurrent admins changing one order: only success, no-op or InvalidTransitionError, and a valid stream', async () => {
    const adminArb = fc.record({
      to: fc.constantFrom(...statuses),
      /** Set: this request is a retry (same command id, same status) of an earlier one. */
      retryOf: fc.option(fc.nat(), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.constantFrom(...statuses),
        fc.array(adminArb, { minLength: 2, maxLength: 20 }),
        async (s, initial, admins) => {
          const memory = new MemoryEventStore();
          const orderId = await driveTo(newService(memory).orders, initial);
          const setupEvents = await streamOf(memory, orderId);
          const { orders } = newService(scheduled(s, memory));

          const requests = admins.map((admin, i) =>
            admin.retryOf !== undefined && i > 0
              ? undefined
              : { to: admin.to, commandId: `admin-${i}`, actor: `admin-${i}` },
          );
          for (const [i, admin] of admins.entries()) {
            if (requests[i] === undefined) requests[i] = requests[admin.retryOf! % i] ?? requests[0];
          }
          const calls = requests.map((r) => attempt(orders.changeStatus(orderId, r!.to, { commandId: r!.commandId, actor: r!.actor })));
          const outcomes = await s.waitFor(Promise.all(calls));

          for (const [i, outcome] of outcomes.entries()) {
            const request = requests[i]!;
            if (!outcome.ok) {
              if (!(outcome.error instanceof InvalidTransitionError)) {
                throw new Error(`${JSON.stringify(request)} failed with ${String(outcome.error)}`, { cause: outcome.error });
              }
              expect(outcome.error.to).toBe(request.to);
              continue;
            }
            const { change } = outcome;
            expect(change.applied || change.noop || change.duplicate).toBe(true);
            if (change.applied || change.noop) expect(change.order.status).toBe(request.to);
          }

          const events = await streamOf(memory, orderId);
          expectValidStream(events);
          expect(events.slice(0, setupEvents.length)).toEqual(setupEvents);
          const added = events.slice(setupEvents.length);
          const commandIds = added.map((e) => e.metadata.commandId);
          expect(new Set(commandIds).size, 'each command id appears in at most one event').toBe(commandIds.length);
          const acknowledged = new Set(
            outcomes.flatMap((o, i) => (o.ok && (o.change.applied || o.change.duplicate) ? [requests[i]!.commandId] : [])),
          );
          expect(new Set(commandIds)).toEqual(acknowledged);
          expect(await createOrderService({ store: memory }).getOrder(orderId)).toEqual(foldStream(events));
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

/** `store`, with every read and append started and answered when the scheduler says. */
function scheduled(s: fc.Scheduler, store: EventStore): EventStore {
  async function gate<T>(label: string, call: () => Promise<T>): Promise<T> {
    await s.schedule(Promise.resolve(), `${label} starts`);
    const settled = await call().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const answer = await s.schedule(Promise.resolve(settled), `${label} answers`);
    if (!answer.ok) throw answer.error;
    return answer.value;
  }
  return {
    appendToStream: (stream, events, options) =>
      gate(`append ${String(options.expectedVersion)}`, () => store.appendToStream(stream, events, options)),
    appendToStreams: (requests) => gate(`append to ${requests.length} streams`, () => store.appendToStreams(requests)),
    readStream: (stream, options) => gate('read', () => store.readStream(stream, options)),
    readAll: (options) => store.readAll(options),
    subscribeToAll: (options) => store.subscribeToAll(options),
    headPosition: () => store.headPosition(),
    close: () => store.close(),
  };
}
