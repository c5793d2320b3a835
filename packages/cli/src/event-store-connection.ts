import type { EventStore } from '@ordo/core';
import { withDatabase, type DatabaseOptions } from './connection.js';
import { UsageError } from './usage-error.js';

/** The options of a command that reads the log from PostgreSQL or EventStoreDB. */
export interface EventStoreOptions extends DatabaseOptions {
  /** EventStoreDB (KurrentDB) connection string, from `--esdb-url` or `EVENTSTOREDB_URL`. */
  esdbUrl?: string;
}

/**
 * Runs `work` on the event store the options name: EventStoreDB when an EventStoreDB URL is given,
 * else PostgreSQL. Both at once is a usage error: the command would otherwise read one store while
 * the operator believes it reads the other.
 */
export async function withEventStore<T>(options: EventStoreOptions, work: (store: EventStore) => Promise<T>): Promise<T> {
  if (options.esdbUrl === undefined) return withDatabase(options, ({ store }) => work(store));
  if (options.url !== undefined) {
    throw new UsageError('Both a PostgreSQL URL (--url or DATABASE_URL) and an EventStoreDB URL (--esdb-url or EVENTSTOREDB_URL) are set: give one');
  }
  return withEventStoreDB(options.esdbUrl, work);
}

/** Opens EventStoreDB; its client is loaded only here, so PostgreSQL commands never load gRPC. */
async function withEventStoreDB<T>(url: string, work: (store: EventStore) => Promise<T>): Promise<T> {
  if (!/^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover|kdb|kdb\+discover):\/\//.test(url)) {
    throw new UsageError(`Not an EventStoreDB URL: "${url}" (expected esdb://host:port?tls=false or esdb+discover://…)`);
  }
  const [{ EventStoreDBClient }, { EventStoreDBEventStore }] = await Promise.all([import('@eventstore/db-client'), import('@ordo/eventstoredb')]);
  let client: InstanceType<typeof EventStoreDBClient>;
  try {
    client = EventStoreDBClient.connectionString(url);
  } catch (error) {
    throw new UsageError(`Not a valid EventStoreDB URL: "${url}" (${error instanceof Error ? error.message : String(error)})`);
  }
  // A short deadline: an operator at a terminal wants to hear that the server is down in seconds.
  const store = new EventStoreDBEventStore(client, { deadlineMs: 5000, retries: 1, disposeClientOnClose: true });
  try {
    return await work(store);
  } finally {
    await store.close().catch(() => undefined);
  }
}
