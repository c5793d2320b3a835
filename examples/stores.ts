/**
 * The stores the examples run on: memory (the default), PostgreSQL or EventStoreDB (the demo's
 * `--store`, read in demo-args.ts). PostgreSQL uses `DATABASE_URL` when set, otherwise a throwaway server
 * started from the PostgreSQL binaries on the machine; each run gets its own schema, dropped at the
 * end. EventStoreDB uses `EVENTSTOREDB_URL` when set, otherwise the in-process test server that
 * speaks its protocol.
 */
import { MemoryEventStore, type EventStore } from '@ordo/core';

/** Which store to open. */
export type StoreKind = 'memory' | 'postgres' | 'eventstoredb';

export interface OpenedStore {
  store: EventStore;
  label: string;
  /** Closes the store and whatever was started for it. */
  close(): Promise<void>;
}

/** Opens a store of the given kind, starting a throwaway server when no URL names one. */
export async function openStore(kind: StoreKind): Promise<OpenedStore> {
  if (kind === 'postgres') return openPostgres();
  if (kind === 'eventstoredb') return openEventStoreDB();
  const store = new MemoryEventStore();
  return { store, label: 'in-memory store', close: () => store.close() };
}

async function openPostgres(): Promise<OpenedStore> {
  const [{ PostgresEventStore }, pg] = await Promise.all([import('@ordo/postgres'), import('pg')]);
  let server: { url: string; stop(): Promise<void> } | undefined;
  if (!process.env.DATABASE_URL) {
    const { startPostgres } = await import('../test/support/postgres-server.js');
    server = await startPostgres();
  }
  const url = process.env.DATABASE_URL ?? server!.url;
  const pool = new pg.default.Pool({ connectionString: url, max: 20 });
  const schema = `ordo_demo_${Date.now().toString(36)}`;
  const store = new PostgresEventStore({ pool, schema });
  await store.migrate();
  return {
    store,
    label: `PostgreSQL (${server ? 'a throwaway local server' : 'DATABASE_URL'}, schema ${schema})`,
    async close() {
      await store.close();
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
      await server?.stop();
    },
  };
}

async function openEventStoreDB(): Promise<OpenedStore> {
  const [{ EventStoreDBEventStore }, { EventStoreDBClient }] = await Promise.all([
    import('@ordo/eventstoredb'),
    import('@eventstore/db-client'),
  ]);
  let server: { url: string; stop(): Promise<void> } | undefined;
  if (!process.env.EVENTSTOREDB_URL) {
    const { startTestServer } = await import('../test/eventstoredb/server/index.js');
    server = await startTestServer();
  }
  const client = EventStoreDBClient.connectionString(process.env.EVENTSTOREDB_URL ?? server!.url);
  const store = new EventStoreDBEventStore(client);
  return {
    store,
    label: `EventStoreDB (${server ? 'the in-process test server' : 'EVENTSTOREDB_URL'})`,
    async close() {
      await store.close();
      await client.dispose();
      await server?.stop();
    },
  };
}
