/** Where the in-process server behaves as a real node, seen through `@eventstore/db-client` (see `fidelity-suite.ts`). */
import { describeServerFidelity, type RawClient } from './fidelity-suite.js';
import { inProcessServer } from './support.js';

const env = inProcessServer();
describeServerFidelity('with @eventstore/db-client', {
  server: () => env.server(),
  client: async () => (await env.client()) as unknown as RawClient,
});
