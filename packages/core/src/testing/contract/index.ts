/**
 * The `EventStore` contract as vitest suites, for anyone writing a store for another database:
 * the promises Ordo's own stores (memory, PostgreSQL, EventStoreDB) are tested against, run on
 * yours. Needs `vitest` (and `fast-check` for the racing-writers property) beside it.
 *
 * @example
 * // my-store.contract.test.ts
 * import { describeEventStoreContract } from '@ordo/core/testing/contract';
 * describeEventStoreContract('MyStore', async () => new MyStore(await freshDatabase()));
 *
 * @module @ordo/core/testing/contract
 */
export { describeEventStoreContract, type ContractOptions } from './event-store-contract.js';
export { describeMultiStreamContract, type MultiStreamSupport } from './multi-stream-contract.js';
export { multiStreamRaceProperty } from './multi-stream-property.js';
