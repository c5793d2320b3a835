import { EventStoreDBEventStore } from '@ordo/eventstoredb';
import { describeEventStoreContract } from '@ordo/core/testing/contract';
import { REAL_SERVER_URL, inProcessServer, realServer } from './support.js';

// A current server: BatchAppend (since 21.10), caught-up notices (since 23.10), its id cache.
const current = inProcessServer();
// The legacy client has no multi-stream append: appendToStreams must refuse, never emulate it. A
// server absorbs a retry with the original write's answer, so racing callers may all hear `false`.
const legacy = { multiStream: 'unsupported', duplicates: 'when-detected' } as const;
describeEventStoreContract('EventStoreDBEventStore, in-process server', async () => new EventStoreDBEventStore(await current.client()), legacy);

// The least a server may do: plain Append, no caught-up notices, and no recently-written-id cache,
// so that every retry the contract absorbs is absorbed by the adapter.
const least = inProcessServer({ batchAppend: false, caughtUpNotices: false, idempotencyCacheSize: 0 });
describeEventStoreContract('EventStoreDBEventStore, in-process server without BatchAppend, caught-up notices or id cache', async () =>
  new EventStoreDBEventStore(await least.client()),
  legacy,
);

if (REAL_SERVER_URL) {
  const real = realServer(REAL_SERVER_URL);
  describeEventStoreContract(`EventStoreDBEventStore, ${REAL_SERVER_URL}`, async () => new EventStoreDBEventStore(await real.client()), legacy);
}
