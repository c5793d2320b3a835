/**
 * The model-based store test from `@ordo/core/testing` on the in-process EventStoreDB server: each
 * run on streams of its own, since the server is shared with the file's other runs.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { it } from 'vitest';
import { EventStoreDBEventStore } from '@ordo/eventstoredb';
import { storeModelProperty } from '@ordo/core/testing/race';
import { inProcessServer } from './support.js';

const server = inProcessServer();

it('random appends, retries and reads answer as the in-memory reference does (25 runs)', async () => {
  const client = await server.client();
  await fc.assert(
    storeModelProperty({
      store: () => new EventStoreDBEventStore(client),
      streamPrefix: () => `m${randomUUID().replaceAll('-', '').slice(0, 12)}-`,
      maxSteps: 20,
    }),
    { numRuns: 25 },
  );
});
