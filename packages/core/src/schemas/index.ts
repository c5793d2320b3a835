export * from './event-schemas.js';
export * from './with-event-schemas.js';
