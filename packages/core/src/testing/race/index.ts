/**
 * Property-based concurrency tests for your own deciders and stores, on fast-check (a peer of this
 * entry): commands raced through several independent command handlers on one store, checked for
 * linearizability against the decider; and a store run against the in-memory reference.
 *
 * @module @ordo/core/testing/race
 */
export { raceProperty, RaceViolationError, type RaceCommand, type RaceOptions } from './race-property.js';
export { raceCommands, type RaceCommandsOptions } from './race-commands.js';
export type { Answer, Call, RaceInvariant } from './answers.js';
export { linearizabilityViolations } from './linearizability.js';
export { logIntegrityViolations } from './log-integrity.js';
export { Timeline, type TimelineStep } from './timeline.js';
export * from './store-model.js';
