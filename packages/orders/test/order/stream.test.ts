import { describe, expect, it } from 'vitest';
import { ORDER_CATEGORY, orderIdFor, orderStream, tryMatchOrderStream } from '@ordo/orders';
import { ORDER_ID } from './fixtures.js';

describe('order stream names', () => {
  it('names an order stream by category and order id, and reads the id back', () => {
    expect(ORDER_CATEGORY).toBe('order');
    expect(orderStream(ORDER_ID)).toBe(`order-${ORDER_ID}`);
    expect(tryMatchOrderStream(orderStream(ORDER_ID))).toBe(ORDER_ID);
  });

  it.each(['order-', 'order-42', `orders-${ORDER_ID}`, `notification-${ORDER_ID}`, `x-order-${ORDER_ID}`, 'order-numbers-GAM-20260301'])(
    '%s is not an order stream',
    (name) => expect(tryMatchOrderStream(name)).toBeNull(),
  );

  it('derives the same order id from the same idempotency key, and another from another key', () => {
    expect(orderIdFor('cart-42')).toBe(orderIdFor('cart-42'));
    expect(orderIdFor('cart-43')).not.toBe(orderIdFor('cart-42'));
    expect(tryMatchOrderStream(orderStream(orderIdFor('cart-42')))).toBe(orderIdFor('cart-42'));
  });
});
