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
