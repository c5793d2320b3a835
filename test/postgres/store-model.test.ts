/** The model-based store test from `@ordo/core/testing` on real PostgreSQL: each run on a fresh schema. */
import fc from 'fast-check';
import { it } from 'vitest';
import { storeModelProperty } from '@ordo/core/testing/race';
import { createTestStore } from '../support/postgres.js';

it('random appends, retries and reads answer as the in-memory reference does (40 runs)', async () => {
  await fc.assert(
    storeModelProperty({
      store: () => createTestStore(),
      // Closing a test store drops its schema.
      release: (store) => store.close(),
    }),
    { numRuns: 40 },
  );
});
