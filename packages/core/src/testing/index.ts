/**
 * Test helpers for code built on Ordo, imported as `@ordo/core/testing`; no test framework needed.
 * The concurrency kit (`raceProperty`, `storeModelProperty`) is `@ordo/core/testing/race`, beside
 * fast-check; the store contract is `@ordo/core/testing/contract`, with vitest.
 *
 * @module @ordo/core/testing
 */
export * from './specification.js';
