/** Shared set-up of the EventStoreDB tests: an in-process server (or a real one) and a client for it. */
import { EventStoreDBClient } from '@eventstore/db-client';
import { afterAll } from 'vitest';
import { startTestServer, type TestServer, type TestServerOptions } from './server/index.js';

/** Connection string of a real server to run the suites against as well, e.g. `esdb://localhost:2113?tls=false`. */
export const REAL_SERVER_URL = process.env.EVENTSTOREDB_URL;

/**
 * A lazily started in-process server and one client for it, stopped after the file's tests. The
 * client is the service's own instance: every store the tests open shares it, as a service would.
 */
export function inProcessServer(options: TestServerOptions = {}) {
  let server: TestServer | undefined;
  let client: EventStoreDBClient | undefined;
  afterAll(async () => {
    await disposeOf(client);
    await server?.stop();
  });
  return {
    async server(): Promise<TestServer> {
      server ??= await startTestServer(options);
      return server;
    },
    async client(): Promise<EventStoreDBClient> {
      client ??= EventStoreDBClient.connectionString((await this.server()).url);
      return client;
    },
  };
}

/** One client for a real server, disposed of after the file's tests. */
export function realServer(url: string) {
  let client: EventStoreDBClient | undefined;
  afterAll(async () => {
    await disposeOf(client);
  });
  return {
    async client(): Promise<EventStoreDBClient> {
      client ??= EventStoreDBClient.connectionString(url);
      return client;
    },
  };
}

/** Disposes of a client; gives up waiting after a few seconds so that one stuck call cannot hang the run. */
export async function disposeOf(client: EventStoreDBClient | undefined): Promise<void> {
  if (!client) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([client.dispose(), new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
  clearTimeout(timer);
}
