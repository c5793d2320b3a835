import { EventStoreDBEventStore } from '@ordo/eventstoredb';
import { describeEventStoreContract } from '../contract/event-store-contract.js';
import { REAL_SERVER_URL, inProcessServer, realServer } from './support.js';

// The client appends with BatchAppend when the server offers it (servers since 21.10), else with Append.
const batch = inProcessServer();
describeEventStoreContract('EventStoreDBEventStore, in-process server', async () => new EventStoreDBEventStore(await batch.client()));

const legacy = inProcessServer({ batchAppend: false, caughtUpNotices: false });
describeEventStoreContract('EventStoreDBEventStore, in-process server without BatchAppend or caught-up notices', async () =>
  new EventStoreDBEventStore(await legacy.client()),
);

if (REAL_SERVER_URL) {
  const real = realServer(REAL_SERVER_URL);
  describeEventStoreContract(`EventStoreDBEventStore, ${REAL_SERVER_URL}`, async () => new EventStoreDBEventStore(await real.client()));
}
