/** Racing multi-stream writers on PostgreSQL, each writer a separate store instance with its own connection. */
import { describe } from 'vitest';
import { multiStreamRaceProperty } from '@ordo/core/testing/contract';
import { createTestStore } from '../support/postgres.js';

const RUNS = Number(process.env.ORDO_PG_PROPERTY_RUNS ?? 10);

describe('PostgresEventStore: appendToStreams under racing writers', () => {
  multiStreamRaceProperty(
    'PostgresEventStore',
    async (writers) => {
      const reader = await createTestStore({ pollIntervalMs: 100 });
      const siblings = await Promise.all(Array.from({ length: writers }, () => reader.sibling({ pollIntervalMs: 100 }, { max: 1 })));
      return {
        reader,
        writers: siblings.map((s) => s.store),
        async close() {
          await Promise.all(siblings.map((s) => s.close()));
          await reader.close();
        },
      };
    },
    RUNS,
  );
});
