/**
 * Shared set-up of the EventStoreDB tests: an in-process server (or a real one) and an
 * `EventStoreDBClient` for it. The KurrentDB client has its own set-up (`kurrent-support.ts`): the
 * two clients cannot share a process (see there).
 */
import { EventStoreDBClient } from '@eventstore/db-client';
import { afterAll } from 'vitest';
import { disposeOf } from './env.js';
import { startTestServer, type TestServer, type TestServerOptions } from './server/index.js';

export { REAL_SERVER_URL, disposeOf } from './env.js';

/**
 * A lazily started in-process server and a client for it, stopped after the file's tests. The
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

/** A client for a real server, disposed of after the file's tests. */
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
