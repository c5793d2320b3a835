/** The order domain's zod schemas (values, events, commands) under the module path they first had. */
export * from './values.js';
export * from './events.js';
export * from './commands.js';
