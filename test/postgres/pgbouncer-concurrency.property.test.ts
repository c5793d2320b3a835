/**
 * The concurrent-writers property (see `concurrency-property.ts`) with every connection through
 * PgBouncer in transaction mode: writers, the sibling instance and the subscriber (which polls, as
 * nothing LISTENs through a pooler). Fewer runs than the direct variant: the same code paths, one
 * hop more per statement.
 */
import { afterAll, beforeAll } from 'vitest';
import { createPooledTestStore, startPgBouncer, type TestPgBouncer } from '../support/pgbouncer.js';
import { concurrentWritersProperty } from './concurrency-property.js';

const RUNS = Number(process.env.ORDO_PG_PROPERTY_RUNS ?? 10);

let bouncer: TestPgBouncer;
beforeAll(async () => {
  bouncer = await startPgBouncer({ mode: 'transaction' });
});
afterAll(async () => {
  await bouncer?.stop();
});

concurrentWritersProperty(' through PgBouncer', () => createPooledTestStore(bouncer, { pollIntervalMs: 100, pool: { max: 16 } }), RUNS);
