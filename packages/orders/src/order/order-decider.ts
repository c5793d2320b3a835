/** The order decider, its state and its errors, under the module path they first had. */
export { createOrderDecider } from './decide.js';
export type { Order, OrderState } from './fold.js';
export { orderStream } from './stream.js';
export * from './errors.js';
