/**
 * Two service instances (two order services, each with its own command handler and so its own
 * in-process queue) on one store, sending the same command at the same moment: the store keeps one
 * copy, and exactly one caller hears that it applied the command; the other hears `duplicate`.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AppendOutcomeUnknownError,
  createCommandHandler,
  MemoryEventStore,
  type AppendResult,
  type Decider,
  type EventStore,
} from '@ordo/core';
import { createOrderService, InvalidTransitionError, orderStream, type PlaceOrderInput } from '@ordo/orders';
import { createTestStore } from './support/postgres.js';

interface Instances {
  /** The store each instance uses (one store, or two connections to one database). */
  stores: [EventStore, EventStore];
  /** What the test reads back with. */
  reader: EventStore;
  close(): Promise<void>;
}

const setups: { name: string; open: () => Promise<Instances> }[] = [
  {
    name: 'memory (one store, two handlers)',
    open: async () => {
      const store = new MemoryEventStore();
      return { stores: [store, store], reader: store, close: () => store.close() };
    },
  },
  {
    name: 'PostgreSQL (two stores with their own pools on one schema)',
    open: async () => {
      const store = await createTestStore();
      const other = await store.sibling();
      return {
        stores: [store, other.store],
        reader: store,
        close: async () => {
          await other.close();
          await store.close();
        },
      };
    },
  },
];

/**
 * Holds every append until `parties` appends have arrived, then lets them all go: each instance
 * has read and decided on the same state before either writes, as two servers racing would.
 */
function appendBarrier(parties: number) {
  let waiting: (() => void)[] = [];
  let open = false;
  const arrive = () =>
    new Promise<void>((resolve) => {
      if (open) return resolve();
      waiting.push(resolve);
      if (waiting.length >= parties) {
        open = true;
        waiting.forEach((release) => release());
        waiting = [];
      }
    });
  return {
    /** `store`, with its appends held at the barrier. */
    gate(store: EventStore): EventStore {
      return {
        appendToStream: async (stream, events, options): Promise<AppendResult> => {
          await arrive();
          return store.appendToStream(stream, events, options);
        },
        appendToStreams: (requests) => store.appendToStreams(requests),
        readStream: (stream, options) => store.readStream(stream, options),
        readAll: (options) => store.readAll(options),
        subscribeToAll: (options) => store.subscribeToAll(options),
        headPosition: () => store.headPosition(),
        close: async () => undefined,
      };
    },
  };
}

const order = (key: string): PlaceOrderInput => ({
  idempotencyKey: key,
  customer: { name: 'Ann', email: 'ann@example.com' },
  lines: [{ sku: 'PIZZA-M', name: 'Pizza Margherita', quantity: 2, unitPrice: { amount: 950, currency: 'EUR' } }],
  currency: 'EUR',
});

describe.each(setups)('two instances on $name', ({ open }) => {
  let instances: Instances;
  afterEach(async () => {
    await instances.close();
  });

  it('place the same order at once: one event stored, one caller applied, the other duplicate', async () => {
    instances = await open();
    for (let round = 0; round < 5; round++) {
      const barrier = appendBarrier(2);
      const [a, b] = instances.stores.map((store) => createOrderService({ store: barrier.gate(store) }));
      const key = `cart-${randomUUID()}`;
      const results = await Promise.all([a!.placeOrder(order(key)), b!.placeOrder(order(key))]);

      const flags = results.map((r) => ({ applied: r.applied, duplicate: r.duplicate, noop: r.noop }));
      expect(flags).toHaveLength(2);
      expect(flags).toContainEqual({ applied: true, duplicate: false, noop: false });
      expect(flags).toContainEqual({ applied: false, duplicate: true, noop: false });
      expect(results[0]!.position).toBe(results[1]!.position);
      const stored = await instances.reader.readStream(orderStream(results[0]!.orderId));
      expect(stored.events.map((e) => e.type)).toEqual(['OrderPlaced']);
    }
  });

  it('the same status change (one command id) sent through both at once: one applied, the other duplicate', async () => {
    instances = await open();
    const placed = await createOrderService({ store: instances.stores[0] }).placeOrder(order(`cart-${randomUUID()}`));
    const barrier = appendBarrier(2);
    const [a, b] = instances.stores.map((store) => createOrderService({ store: barrier.gate(store) }));
    const commandId = randomUUID();
    const results = await Promise.all([
      a!.changeStatus(placed.orderId, 'confirmed', { commandId, actor: 'admin-1' }),
      b!.changeStatus(placed.orderId, 'confirmed', { commandId, actor: 'admin-1' }),
    ]);
    expect(results.map((r) => r.applied).sort()).toEqual([false, true]);
    expect(results.map((r) => r.duplicate).sort()).toEqual([false, true]);
    const stored = await instances.reader.readStream(orderStream(placed.orderId));
    expect(stored.events.map((e) => e.type)).toEqual(['OrderPlaced', 'OrderStatusChanged']);
  });

  it('two handlers append one command each at once with the kernel alone: one duplicate, never two appliers', async () => {
    instances = await open();
    const counter: Decider<{ add: number }, { type: 'Added'; data: { n: number } }, number> = {
      initialState: 0,
      decide: (command) => [{ type: 'Added', data: { n: command.add } }],
      evolve: (state, event) => state + event.data.n,
    };
    const barrier = appendBarrier(2);
    const [a, b] = instances.stores.map((store) => createCommandHandler({ store: barrier.gate(store), decider: counter }));
    const stream = `counter-${randomUUID()}`;
    const context = { commandId: randomUUID() };
    const results = await Promise.all([a!.handle(stream, { add: 2 }, context), b!.handle(stream, { add: 2 }, context)]);
    expect(results.map((r) => r.duplicate).sort()).toEqual([false, true]);
    expect(results.map((r) => r.state)).toEqual([2, 2]);
    expect((await instances.reader.readStream(stream)).events).toHaveLength(1);
  });
});

describe('a re-sent command that was a no-op is decided again (no-ops leave no trace)', () => {
  it('after another admin moved the order on, the re-sent no-op gets the answer of the current state', async () => {
    const store = new MemoryEventStore();
    const orders = createOrderService({ store });
    const { orderId } = await orders.placeOrder(order('cart-resent'));
    await orders.changeStatus(orderId, 'confirmed', { actor: 'admin-1' });
    const commandId = randomUUID();
    const first = await orders.changeStatus(orderId, 'confirmed', { commandId, actor: 'admin-1' });
    expect(first).toMatchObject({ applied: false, noop: true, duplicate: false });
    await orders.changeStatus(orderId, 'preparing', { actor: 'admin-2' });

    // Only writes are recorded with their command id; the no-op is decided again, on today's state.
    await expect(orders.changeStatus(orderId, 'confirmed', { commandId, actor: 'admin-1' })).rejects.toBeInstanceOf(
      InvalidTransitionError,
    );
    const types = (await store.readStream(orderStream(orderId))).events.map((e) => e.type);
    expect(types).toEqual(['OrderPlaced', 'OrderStatusChanged', 'OrderStatusChanged']);
  });
});

describe('an append whose answer was lost, for a batch of queued commands', () => {
  it('every command of the batch gets AppendOutcomeUnknownError; sent again, each is recognised as applied', async () => {
    const memory = new MemoryEventStore();
    let loseNext = true;
    const losing: EventStore = {
      appendToStream: async (stream, events, options) => {
        const result = await memory.appendToStream(stream, events, options);
        if (!loseNext) return result;
        loseNext = false;
        throw new AppendOutcomeUnknownError(stream, 'the answer was lost');
      },
      appendToStreams: (requests) => memory.appendToStreams(requests),
      readStream: (stream, options) => memory.readStream(stream, options),
      readAll: (options) => memory.readAll(options),
      subscribeToAll: (options) => memory.subscribeToAll(options),
      headPosition: () => memory.headPosition(),
      close: () => memory.close(),
    };
    const counter: Decider<{ add: number }, { type: 'Added'; data: { n: number } }, number> = {
      initialState: 0,
      decide: (command) => [{ type: 'Added', data: { n: command.add } }],
      evolve: (state, event) => state + event.data.n,
    };
    const handler = createCommandHandler({ store: losing, decider: counter });
    const stream = `counter-${randomUUID()}`;
    await handler.handle(stream, { add: 100 }, { commandId: 'first' }).catch(() => undefined);
    loseNext = true;
    const ids = ['a', 'b', 'c'];
    // Queued behind each other on one handler: decided together and appended as one batch.
    const outcomes = await Promise.allSettled(ids.map((commandId, i) => handler.handle(stream, { add: i + 1 }, { commandId })));
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).constructor.name : 'fulfilled'))).toEqual(
      Array.from({ length: 3 }, () => 'AppendOutcomeUnknownError'),
    );
    const again = await Promise.all(ids.map((commandId, i) => handler.handle(stream, { add: i + 1 }, { commandId })));
    expect(again.map((r) => r.duplicate)).toEqual([true, true, true]);
    expect((await memory.readStream(stream)).events).toHaveLength(4);
  });
});
