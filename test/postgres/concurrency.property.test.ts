import { createTestStore } from '../support/postgres.js';
import { concurrentWritersProperty } from './concurrency-property.js';

concurrentWritersProperty('', () => createTestStore({ pollIntervalMs: 100, pool: { max: 16 } }));
