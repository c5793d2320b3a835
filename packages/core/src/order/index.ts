export * from './lifecycle.js';
export * from './schemas.js';
export * from './order-decider.js';
export * from './order-service.js';
