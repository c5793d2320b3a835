/**
 * An in-process server that speaks the EventStoreDB gRPC protocol, for tests: the unmodified
 * `@eventstore/db-client` connects to it with `esdb://127.0.0.1:PORT?tls=false`.
 *
 * It implements, from the documented behaviour, what Ordo's adapter relies on: appends with every
 * kind of expected revision and the server's event-id idempotency, stream and `$all` reads in both
 * directions, filtered catch-up-then-live subscriptions to `$all` (with the server's checkpoints)
 * and to single streams, system records in `$all`, soft delete and tombstone, KurrentDB's
 * multi-stream append (v2 `AppendSession`, with the KurrentDB client's protocol),
 * stream metadata (`$maxCount`, `$tb`), the append size limit, and the error shapes the client
 * expects. It is not EventStoreDB: no clustering, ACLs, server-side projections, persistent
 * subscriptions, scavenging or real position values.
 */
import * as grpc from '@grpc/grpc-js';
import { Database, type DatabaseOptions } from './database.js';
import { Faults } from './faults.js';
import { loadProtocol, type ProtocolSource } from './protocol.js';
import { ConnectionRelay } from './proxy.js';
import { addServices, type ServerStats } from './service.js';
import { SystemActivity, seedSystemRecords, type SystemRecordOptions } from './system.js';

export { Database, TOMBSTONE_REVISION, metastreamOf, type StoredEvent } from './database.js';
export { Faults, type DelayFault, type FaultedMethod } from './faults.js';
export type { ProtocolSource } from './protocol.js';
export type { ServerStats } from './service.js';
export { STATISTICS_STREAM, type SystemRecordOptions } from './system.js';

/**
 * The server version the test server reports through ServerFeatures: KurrentDB 25.1, the first
 * with the multi-stream append (`@kurrent/kurrentdb-client` gates `multiStreamAppend` on 25.1, by
 * the `AppendSession` method the server lists, which the test server lists when it serves that
 * client's protocol). Its other gRPC behaviour is that of EventStoreDB 23.10, the first version with
 * every other feature the server offers (BatchAppend since 21.10, `$all` positions on stream reads
 * since 22.6, caught-up notices since 23.10, and checkpoints of filtered subscriptions, also when
 * catch-up ends); its caught-up notices carry no position or timestamp, as 23.10's do not and later
 * versions' do, so clients must not rely on those. The clients choose no other feature by version.
 */
export const SERVER_VERSION = '25.1.0';

/** How to start a {@link startTestServer test server}. */
export interface TestServerOptions extends DatabaseOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Offer BatchAppend, as servers since 21.10 do. With `false` the client appends with the older Append call. Default true. */
  batchAppend?: boolean;
  /**
   * Offer KurrentDB's multi-stream append (v2 `AppendSession`) when serving the KurrentDB client's
   * protocol, as servers since 25.1 do. With `false` the server behaves as an older one. Default true.
   */
  multiStreamAppend?: boolean;
  /** Send caught-up notices on subscriptions, as servers since 23.10 do. Default true. */
  caughtUpNotices?: boolean;
  /**
   * Whose generated protocol classes to use: `@eventstore/db-client`'s (default) or
   * `@kurrent/kurrentdb-client`'s. Use the package of the client under test; one per process.
   */
  protocol?: ProtocolSource;
  /**
   * System records in `$all`, as a real node has: seeded at start, and written in the background
   * every `intervalMs` (default 25 ms) until the server stops. `false` leaves `$all` to the
   * clients' own writes. Default on.
   */
  systemRecords?: SystemRecordOptions | false;
}

/** A running test server. */
export interface TestServer {
  /** Connection string for the client, e.g. `esdb://127.0.0.1:41234?tls=false`. */
  url: string;
  port: number;
  /** Arm faults: cut connections after a commit, cut a subscription, delay answers. */
  faults: Faults;
  /** The server's state, for tests that check what was (not) written. */
  database: Database;
  /** What the server counted (e.g. events sent in answer to `$all` reads). */
  stats: ServerStats;
  /** The background writer of system records; `undefined` with `systemRecords: false`. */
  systemActivity: SystemActivity | undefined;
  /** Cuts every client connection now. */
  dropConnections(): void;
  stop(): Promise<void>;
}

/** Starts a test server on 127.0.0.1. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const database = new Database(options);
  const faults = new Faults();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 32 * 1024 * 1024,
    'grpc.max_send_message_length': 32 * 1024 * 1024,
  });
  let relay: ConnectionRelay | undefined;
  const cutter = { dropAll: () => relay?.dropAll() };
  const stats: ServerStats = { allReadEventsSent: 0 };
  addServices(server, database, faults, cutter, {
    batchAppend: options.batchAppend ?? true,
    caughtUpNotices: options.caughtUpNotices ?? true,
    multiStreamAppend: options.multiStreamAppend ?? true,
    serverVersion: SERVER_VERSION,
    stats,
  }, loadProtocol(options.protocol));
  const systemRecords = options.systemRecords ?? {};
  if (systemRecords) seedSystemRecords(database);
  const innerPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  relay = new ConnectionRelay(innerPort);
  const port = await relay.listen(options.port ?? 0);
  const systemActivity = systemRecords ? new SystemActivity(database, systemRecords) : undefined;
  return {
    url: `esdb://127.0.0.1:${port}?tls=false`,
    port,
    faults,
    database,
    stats,
    systemActivity,
    dropConnections: () => relay!.dropAll(),
    async stop() {
      systemActivity?.stop();
      faults.reset();
      server.forceShutdown();
      await relay!.close();
    },
  };
}
