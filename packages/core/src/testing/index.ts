/**
 * Test helpers for code built on Ordo, imported as `@ordo/core/testing`; no test framework needed.
 *
 * @module @ordo/core/testing
 */
export * from './specification.js';
export * from './race/index.js';
export * from './store-model.js';
