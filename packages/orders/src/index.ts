/**
 * The order domain on the Ordo kernel: the lifecycle as data, zod schemas of
 * commands and events, the order decider and service, and what is derived from the log: order
 * numbers, notifications and the fulfillment process manager.
 *
 * @module @ordo/orders
 */
export * from './order/lifecycle.js';
export * from './order/stream.js';
export * from './order/values.js';
export * from './order/events.js';
export * from './order/commands.js';
export * from './order/fold.js';
export * from './order/errors.js';
export { createOrderDecider } from './order/decide.js';
export * from './order/history.js';
export * from './order/service.js';
export * from './numbering/order-numbers.js';
export * from './notifications/notifications.js';
export * from './notifications/notification-events.js';
export * from './notifications/notification-delivery.js';
export * from './notifications/notification-dispatcher.js';
export * from './notifications/notification-outbox.js';
export * from './fulfillment/fulfillment.js';
export { FULFILLMENT_TELEMETRY } from './fulfillment/provider-calls.js';
export * from './fulfillment/fulfillment-events.js';
export * from './fulfillment/fulfillment-flow.js';
