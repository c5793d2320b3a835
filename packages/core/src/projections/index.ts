export * from './checkpoints.js';
export * from './runner.js';
export * from './health.js';
export { backoffDelay, DEFAULT_TRANSIENT_BACKOFF, type BackoffPolicy } from './supervision.js';
export * from './reactor.js';
export * from './reactor-checkpoints.js';
export * from './ordo-health.js';
export * from './rebuild.js';
