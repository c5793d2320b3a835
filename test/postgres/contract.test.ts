import { describeEventStoreContract } from '@ordo/core/testing/contract';
import { createTestStore } from '../support/postgres.js';

describeEventStoreContract('PostgresEventStore', () => createTestStore());
