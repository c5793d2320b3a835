/**
 * Where the in-process server behaves as a real node, seen through `@kurrent/kurrentdb-client`
 * (see `fidelity-suite.ts`), including the "deadlines expire" faults, whose deadline this client
 * sends in another protocol field than `@eventstore/db-client`. A file of its own: the two clients
 * cannot share a process.
 */
import { inProcessServerForKurrent } from './kurrent-support.js';
import { describeServerFidelity, type RawClient } from './fidelity-suite.js';

const env = inProcessServerForKurrent();
describeServerFidelity('with @kurrent/kurrentdb-client', {
  server: () => env.server(),
  client: async () => (await env.client()) as unknown as RawClient,
});
