/** The order service under the module path it first had. */
export * from './service.js';
export type { HistoryEntry } from './history.js';
export { orderIdFor } from './stream.js';
