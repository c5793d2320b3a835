/**
 * The numbering of a scenario 7w service, in a worker thread of the service process: its own pool,
 * store, checkpoint store and order-numbers runner (leased, as in 7), on an event loop that the
 * burst of requests on the main thread cannot hold up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type CheckpointStore } from '@ordo/core';
import { createOrderNumbers, createOrderService } from '@ordo/orders';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import pg from 'pg';
import { PROJECTION_POOL_SIZE } from './stores/types.js';

const { url } = workerData as { url: string };
const pool = new pg.Pool({ connectionString: url, max: PROJECTION_POOL_SIZE });
const store = new PostgresEventStore({ pool });
const numbers = createOrderNumbers({
  store,
  orders: createOrderService({ store }),
  checkpoints: new PostgresCheckpointStore({ pool }) as CheckpointStore<unknown> as CheckpointStore,
});
await numbers.start();
parentPort!.postMessage('started');
parentPort!.once('message', async () => {
  await numbers.stop();
  await store.close();
  await pool.end();
  parentPort!.postMessage('stopped');
});
