import { describe, expect, it } from 'vitest';
import { MemoryEventStore, UnsupportedOperationError, type EventStore } from '@ordo/core';
import { createOrderNumbers, createOrderService } from '@ordo/orders';
import { orderInput } from './helpers.js';
import { orderNumbersProperty, orderNumbersSuite } from './order-numbers-properties.js';

orderNumbersSuite(async () => new MemoryEventStore());
orderNumbersProperty(async () => new MemoryEventStore());

describe('order numbers on a store without atomic multi-stream appends', () => {
  it('fall back to claiming first and numbering each order next, and stop asking after the first refusal', async () => {
    const memory = new MemoryEventStore();
    let refusals = 0;
    const store: EventStore = Object.assign(Object.create(memory) as EventStore, {
      appendToStreams: () => {
        refusals++;
        return Promise.reject(new UnsupportedOperationError('appendToStreams', 'this store appends to one stream at a time'));
      },
    });
    const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
    const numbers = createOrderNumbers({ store, prefix: 'FB' });
    await numbers.start();
    try {
      const placed = [];
      for (let i = 0; i < 3; i++) placed.push((await orders.placeOrder(orderInput(`fallback-${i}`))).orderId);
      for (const [i, orderId] of placed.entries()) {
        expect(await numbers.waitForNumber(orderId)).toBe(`FB-20261123-000${i + 1}`);
      }
      expect(refusals).toBe(1);
    } finally {
      await numbers.stop();
    }
  });
});

describe('waiting for a number in a process that runs the numbering', () => {
  /** A memory store that counts reads of order streams. */
  function countingStore() {
    const memory = new MemoryEventStore();
    const reads: string[] = [];
    const store: EventStore = Object.assign(Object.create(memory) as EventStore, {
      readStream: (...args: Parameters<EventStore['readStream']>) => {
        reads.push(args[0]);
        return memory.readStream(...args);
      },
    });
    return { store, reads };
  }

  it('given placedAt, answers from the watcher without reading the order stream, also for an order numbered before the wait', async () => {
    const { store, reads } = countingStore();
    const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
    const numbers = createOrderNumbers({ store, prefix: 'PA' });
    await numbers.start();
    try {
      const first = await orders.placeOrder(orderInput('placed-at-0'));
      // Numbered before anyone waits: the watcher keeps it among the recent numbers.
      await numbers.runner.waitFor(first.position!, { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = await orders.placeOrder(orderInput('placed-at-1'));
      const ofOrders = () => reads.filter((s) => s === `order-${first.orderId}` || s === `order-${second.orderId}`).length;
      const before = ofOrders();
      expect(await numbers.waitForNumber(first.orderId, { placedAt: first.position })).toBe('PA-20261123-0001');
      expect(await numbers.waitForNumber(second.orderId, { placedAt: second.position })).toBe('PA-20261123-0002');
      expect(ofOrders()).toBe(before);
      // Without placedAt the wait also looks at the order stream once.
      expect(await numbers.waitForNumber(second.orderId)).toBe('PA-20261123-0002');
      expect(reads.filter((s) => s === `order-${second.orderId}`).length).toBeGreaterThan(0);
    } finally {
      await numbers.stop();
    }
  });

  it('reads the order stream when the order was numbered before this process watched, even given placedAt', async () => {
    const { store } = countingStore();
    const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
    const earlier = createOrderNumbers({ store, prefix: 'PB' });
    await earlier.start();
    const placed = await orders.placeOrder(orderInput('numbered-earlier'));
    const number = await earlier.waitForNumber(placed.orderId, { placedAt: placed.position });
    await earlier.stop();

    const later = createOrderNumbers({ store, prefix: 'PB' });
    await later.start();
    try {
      // Its watcher started after the number was assigned: only the order stream can tell.
      expect(await later.waitForNumber(placed.orderId, { placedAt: placed.position, timeoutMs: 2000 })).toBe(number);
    } finally {
      await later.stop();
    }
  });
});

describe('an instance that only waits for numbers (numbering: false)', () => {
  it('does not number, and answers its waits from what the numbering instance assigns', async () => {
    const store = new MemoryEventStore();
    const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
    const waiting = createOrderNumbers({ store, prefix: 'NW', numbering: false });
    await waiting.start();
    try {
      const placed = await orders.placeOrder(orderInput('waits-only'));
      const number = waiting.waitForNumber(placed.orderId, { placedAt: placed.position, timeoutMs: 5000 });
      // Nobody numbers yet: the wait is still open, and this instance's runner is not running.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(waiting.runner.status().state).toBe('stopped');
      expect((await store.readStream(`order-${placed.orderId}`)).events.map((e) => e.type)).not.toContain('OrderNumberAssigned');
      const numbering = createOrderNumbers({ store, prefix: 'NW' });
      await numbering.start();
      try {
        expect(await number).toBe('NW-20261123-0001');
      } finally {
        await numbering.stop();
      }
    } finally {
      await waiting.stop();
    }
  });
});
