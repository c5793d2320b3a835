/**
 * The projection suites through PgBouncer in transaction mode: the checkpoint store and runner
 * suites (as in `checkpoints.test.ts`), and the order-number and notification projections (as in
 * `domain-projections.test.ts`, with fewer runs), and the lease suite (plain statements, timed by
 * the server). Checkpoint transactions hold one server connection from BEGIN to COMMIT, which
 * transaction pooling allows; live reads poll.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import type { EventStore } from '@ordo/core';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import { notificationsProperty, notificationsSuite } from '../projections/notification-properties.js';
import { orderNumbersProperty, orderNumbersSuite } from '../projections/order-numbers-properties.js';
import { leaseStoreSuite } from '../projections/lease-properties.js';
import { checkpointStoreSuite, projectionRunnerSuite } from '../projections/runner-properties.js';
import { createPooledTestStore, pooledTestPool, startPgBouncer, type PooledTestStore, type TestPgBouncer } from '../support/pgbouncer.js';
import { dropSchema, uniqueSchemaName } from '../support/postgres.js';

let bouncer: TestPgBouncer;
beforeAll(async () => {
  bouncer = await startPgBouncer({ mode: 'transaction' });
});
afterAll(async () => {
  await bouncer?.stop();
});

/** A schema migrated through the pooler and a pool through it, for one describe block. */
function pooledSchema(label: string) {
  const state = { schema: uniqueSchemaName(label), pool: undefined as unknown as pg.Pool };
  beforeAll(async () => {
    state.pool = pooledTestPool(bouncer);
    await new PostgresEventStore({ pool: state.pool, schema: state.schema, pooler: 'transaction' }).migrate();
  });
  afterAll(async () => {
    await dropSchema(state.pool, state.schema);
    await state.pool.end();
  });
  return state;
}

describe('PostgresCheckpointStore through PgBouncer: the shared checkpoint suite', () => {
  const at = pooledSchema('pgbcp');
  checkpointStoreSuite(async () => new PostgresCheckpointStore({ pool: at.pool, schema: at.schema }));
});

describe('PostgresCheckpointStore leases through PgBouncer: the shared lease suite', () => {
  const at = pooledSchema('pgblease');
  leaseStoreSuite(async () => new PostgresCheckpointStore({ pool: at.pool, schema: at.schema }));
});

describe('the projection runner on PostgresEventStore through PgBouncer: the shared runner suite', () => {
  const at = pooledSchema('pgbrun');
  projectionRunnerSuite(async () => new PostgresEventStore({ pool: at.pool, schema: at.schema, pooler: 'transaction', pollIntervalMs: 100 }));
});

describe('order numbers and notifications through PgBouncer', () => {
  const open = () => createPooledTestStore(bouncer, { pollIntervalMs: 100 });
  const ownStore = (store: EventStore) => (store as PooledTestStore).sibling({ pollIntervalMs: 100 }, { max: 4 });
  orderNumbersSuite(open);
  describe('workers sharing the run’s store', () => {
    orderNumbersProperty(open, { runs: 3, maxOrders: 30, largeRuns: 1, largeOrders: 100 });
  });
  describe('workers in separate connections', () => {
    orderNumbersProperty(open, { runs: 3, maxOrders: 30, largeRuns: 1, largeOrders: 100, minWorkers: 2, workerStore: ownStore });
  });
  notificationsSuite(open);
  notificationsProperty(open, { runs: 6 });
});
