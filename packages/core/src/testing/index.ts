/** Test helpers for code built on Ordo. Imported as `@ordo/core/testing`; no test framework needed. */
export * from './specification.js';
export * from './race/index.js';
export * from './store-model.js';
