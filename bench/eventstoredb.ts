/**
 * The EventStoreDB of scenario 7e: the project's in-process test server, started once per bench
 * run in a process of its own (see `eventstoredb-host.ts`), or the server that `EVENTSTOREDB_URL`
 * names. Services talk to it through `@ordo/eventstoredb` with a `KurrentDBClient`, the client with
 * KurrentDB's multi-stream append, so the order numbers are claimed the way they are on PostgreSQL:
 * the claims and each order's `OrderNumberAssigned` in one atomic append (on a server without it,
 * the projection falls back to one append per order by itself).
 *
 * Either server keeps what earlier steps wrote (a real one, also what others wrote), so each run of
 * the scenario numbers its orders under a prefix of its own and starts its projection at the head.
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The server scenario 7e runs against. */
export interface BenchEventStoreDB {
  /** Connection string (`esdb://…` or `kurrentdb://…`). */
  url: string;
  /** What it is, for the report. */
  description: string;
  stop(): Promise<void>;
}

/** Starts the test server in a child process, or uses `EVENTSTOREDB_URL`. */
export async function startEventStoreDB(): Promise<BenchEventStoreDB> {
  const given = process.env.EVENTSTOREDB_URL;
  if (given) return { url: given, description: 'the server of EVENTSTOREDB_URL', stop: async () => undefined };
  const child = fork(join(here, 'eventstoredb-host.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the EventStoreDB test server exited (${code}) before it listened`)));
  });
  return {
    url,
    description: 'the test server of test/eventstoredb/server, started for this run (one Node process of its own, events in memory)',
    async stop() {
      if (child.connected) child.send('stop');
      await exited;
    },
  };
}

/** The KurrentDB client wants its own scheme; `esdb://` still works but warns on every connect. */
function kurrentScheme(url: string): string {
  return url.replace(/^esdb(\+discover)?:\/\//, (_, discover: string | undefined) => `kurrentdb${discover ?? ''}://`);
}

/**
 * One service's connection: a client, and over it the event store and the checkpoint store. One
 * client per service, as the adapter expects: gRPC multiplexes every call over its connection, so
 * there is no pool for the projection's calls to queue behind, as there is on PostgreSQL.
 */
export async function connectEventStoreDB(url: string) {
  const [{ KurrentDBClient }, { EventStoreDBCheckpointStore, EventStoreDBEventStore }] = await Promise.all([
    import('@kurrent/kurrentdb-client'),
    import('@ordo/eventstoredb'),
  ]);
  const client = KurrentDBClient.connectionString(kurrentScheme(url));
  const store = new EventStoreDBEventStore(client, { disposeClientOnClose: true });
  const checkpoints = new EventStoreDBCheckpointStore(client);
  return { store, checkpoints, close: () => store.close() };
}

/** A numbering of its own for one run: a fresh prefix (its sequences start at 1) and projection name. */
export function freshNumbering(run: string): { name: string; prefix: string } {
  return { name: `order-numbers-${run}`, prefix: `B${run.replace(/-/g, '').slice(0, 7).toUpperCase()}` };
}

/** Stores the projection's first checkpoint at the head, so that it numbers only what is placed from now on. */
export async function startProjectionAtHead(url: string, name: string): Promise<void> {
  const { store, checkpoints, close } = await connectEventStoreDB(url);
  try {
    await checkpoints.store(name, await store.headPosition(), null);
  } finally {
    await close();
  }
}
