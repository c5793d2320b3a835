export * from './lifecycle.js';
export * from './schemas.js';
export * from './order-decider.js';
export * from './order-service.js';
export * from './order-numbers.js';
export * from './notifications.js';
export * from './notification-dispatcher.js';
export * from './notification-outbox.js';
