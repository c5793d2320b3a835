/**
 * The event-sourcing kernel of Ordo; it knows no domain: deciders, event envelopes,
 * typed errors, the event store port with optimistic concurrency and idempotent retries, the
 * in-memory reference store, the command handler and the projection runner.
 *
 * @module @ordo/core
 */
export * from './errors.js';
export * from './events.js';
export * from './decider.js';
export * from './command/index.js';
export * from './validation.js';
export * from './transient.js';
export * from './store/event-store.js';
export * from './store/memory-store.js';
export * from './store/validation.js';
export { runSubscription, sleep, type LogSource } from './store/subscription-loop.js';
export * from './projections/index.js';
export { decorateStore } from './store/decorate.js';
export * from './schemas/index.js';
export * from './telemetry/index.js';
