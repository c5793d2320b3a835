/**
 * The order-numbers and notification projections keep their properties on PostgreSQL: each run in
 * a fresh schema on the test server. The numbering property runs twice: with every worker on the
 * run's store, and with two or three workers that each have their own pool and PostgresEventStore
 * instance over the same schema (separate connections, as separate service instances would).
 *
 * Sizes here (the in-memory run in test/projections uses 30 runs of up to 40 checkouts, 2 runs of
 * 500, and 50 notification runs): order numbers 4 runs of up to 30 checkouts and 1 run of 100, in
 * each of the two variants; notifications 8 runs, the misbehaving-sender property 6. Every store call is a round trip to the server
 * and each run makes two schemas, so the file stays within about a minute on a small machine.
 */
import { describe } from 'vitest';
import type { EventStore } from '@ordo/core';
import { notificationsProperty, notificationsSuite } from '../projections/notification-properties.js';
import { orderNumbersProperty, orderNumbersSuite } from '../projections/order-numbers-properties.js';
import { channelIsolationCheck, notificationSenderProperty } from '../projections/notification-sender-properties.js';
import { createTestStore, type TestPostgresEventStore } from '../support/postgres.js';

const open = () => createTestStore({ pollIntervalMs: 100 });
/** A second instance over the run's schema, with its own pool: another service instance. */
const ownStore = (store: EventStore) => (store as TestPostgresEventStore).sibling({ pollIntervalMs: 100 }, { max: 4 });

orderNumbersSuite(open);
describe('workers sharing the run’s store', () => {
  orderNumbersProperty(open, { runs: 4, maxOrders: 30, largeRuns: 1, largeOrders: 100 });
});
describe('workers in separate connections', () => {
  orderNumbersProperty(open, { runs: 4, maxOrders: 30, largeRuns: 1, largeOrders: 100, minWorkers: 2, workerStore: ownStore });
});
notificationsSuite(open);
notificationsProperty(open, { runs: 8 });
notificationSenderProperty(open, { runs: 6 });
channelIsolationCheck(open);
