/**
 * The projection runner's properties and the checkpoint store contract, on EventStoreDB: the event
 * store adapter over the in-process server, and the adapter's checkpoint streams.
 */
import { EventStoreDBCheckpointStore, EventStoreDBEventStore } from '@ordo/eventstoredb';
import { checkpointStoreSuite, projectionRunnerSuite } from '../projections/runner-properties.js';
import { REAL_SERVER_URL, inProcessServer, realServer } from './support.js';

const env = inProcessServer();
projectionRunnerSuite(async () => new EventStoreDBEventStore(await env.client()));
checkpointStoreSuite(async () => new EventStoreDBCheckpointStore(await env.client()));

if (REAL_SERVER_URL) {
  const real = realServer(REAL_SERVER_URL);
  projectionRunnerSuite(async () => new EventStoreDBEventStore(await real.client()));
  checkpointStoreSuite(async () => new EventStoreDBCheckpointStore(await real.client()));
}
