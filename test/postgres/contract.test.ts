import { describeEventStoreContract } from '../contract/event-store-contract.js';
import { createTestStore } from '../support/postgres.js';

describeEventStoreContract('PostgresEventStore', () => createTestStore());
