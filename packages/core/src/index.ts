/**
 * @ordo/core — an event-sourced order domain: a pure order state machine, an event store port with
 * optimistic concurrency and idempotent retries, the in-memory reference store, and projections
 * that derive order numbers and notifications from the log.
 */
export * from './errors.js';
export * from './events.js';
export * from './decider.js';
export * from './handler.js';
export * from './validation.js';
export * from './store/event-store.js';
export * from './store/memory-store.js';
export * from './store/validation.js';
export { runSubscription, sleep, type LogSource } from './store/subscription-loop.js';
export * from './order/index.js';
export * from './projections/index.js';
