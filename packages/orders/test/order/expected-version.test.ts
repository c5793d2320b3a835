import { describe, expect, it } from 'vitest';
import { MemoryEventStore, ValidationError, WrongExpectedVersionError } from '@ordo/core';
import { createOrderService } from '@ordo/orders';
import { placeInput } from './fixtures.js';

describe('order service: a command that names the version it expects', () => {
  it('acts at that version and reports the new one', async () => {
    const orders = createOrderService({ store: new MemoryEventStore() });
    const placed = await orders.placeOrder(placeInput());
    expect(placed.version).toBe(0n);
    const change = await orders.changeStatus(placed.orderId, 'confirmed', { expectedVersion: 0n });
    expect(change.applied).toBe(true);
    expect(change.version).toBe(1n);
  });

  it('refuses a stale version at once, naming the current one, and writes nothing', async () => {
    const orders = createOrderService({ store: new MemoryEventStore() });
    const { orderId } = await orders.placeOrder(placeInput());
    await orders.changeStatus(orderId, 'confirmed', { expectedVersion: 0n });
    const stale = orders.cancel(orderId, { reason: 'stale tab', expectedVersion: 0n });
    await expect(stale).rejects.toBeInstanceOf(WrongExpectedVersionError);
    await expect(stale).rejects.toMatchObject({ expected: 0n, actual: 1n, attempts: undefined });
    expect((await orders.getOrder(orderId)).status).toBe('confirmed');
    expect(await orders.history(orderId)).toHaveLength(2);
  });

  it('lets only one of two racing commands with the same expected version through', async () => {
    const orders = createOrderService({ store: new MemoryEventStore() });
    const { orderId } = await orders.placeOrder(placeInput());
    const outcomes = await Promise.allSettled([
      orders.changeStatus(orderId, 'confirmed', { expectedVersion: 0n }),
      orders.cancel(orderId, { reason: 'other tab', expectedVersion: 0n }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof WrongExpectedVersionError)).toHaveLength(1);
    expect(await orders.history(orderId)).toHaveLength(2);
  });

  it('answers a retried command with its first result, even at a later version', async () => {
    const orders = createOrderService({ store: new MemoryEventStore() });
    const { orderId } = await orders.placeOrder(placeInput());
    const first = await orders.changeStatus(orderId, 'confirmed', { expectedVersion: 0n, commandId: 'click-1' });
    const again = await orders.changeStatus(orderId, 'confirmed', { expectedVersion: 0n, commandId: 'click-1' });
    expect(again).toMatchObject({ duplicate: true, applied: false });
    expect(again.order.status).toBe(first.order.status);
  });

  it('refuses an expected version that is not a non-negative bigint', async () => {
    const orders = createOrderService({ store: new MemoryEventStore() });
    const { orderId } = await orders.placeOrder(placeInput());
    await expect(orders.changeStatus(orderId, 'confirmed', { expectedVersion: -1n })).rejects.toBeInstanceOf(ValidationError);
    await expect(orders.changeStatus(orderId, 'confirmed', { expectedVersion: 0 as unknown as bigint })).rejects.toBeInstanceOf(ValidationError);
  });
});
