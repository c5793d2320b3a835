import { v5 as uuidv5, validate as isUuid } from 'uuid';

/** The category of order streams: an order's events live in `order-<orderId>`. */
export const ORDER_CATEGORY = 'order';

/** The stream that holds an order's events. */
export function orderStream(orderId: string): string {
  return `${ORDER_CATEGORY}-${orderId}`;
}

/** The order id of an order stream's name, or `null` when the name is not an order stream's. */
export function tryMatchOrderStream(streamName: string): string | null {
  const prefix = `${ORDER_CATEGORY}-`;
  if (!streamName.startsWith(prefix)) return null;
  const orderId = streamName.slice(prefix.length);
  return isUuid(orderId) ? orderId : null;
}

const ORDER_ID_NAMESPACE = '8c3c1f4e-2a55-4d1e-b0a4-6f2f9e7d5a10';

/** The order id an idempotency key maps to (uuid v5): the same key always names the same order. */
export function orderIdFor(idempotencyKey: string): string {
  return uuidv5(idempotencyKey, ORDER_ID_NAMESPACE);
}
