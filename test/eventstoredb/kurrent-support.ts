/**
 * Set-up for running the suites with the successor client, `@kurrent/kurrentdb-client`.
 *
 * The two clients cannot share a process: each one's generated protobuf code registers its
 * messages in google-protobuf's one global namespace, and the one loaded last replaces the other's
 * serializers (an `EventStoreDBClient` then fails its appends with "getDeadline21100 is not a
 * function"). So the KurrentDB suites live in their own test files, which never load
 * `@eventstore/db-client`, and their in-process server speaks with the KurrentDB client's own
 * generated classes.
 */
import { KurrentDBClient } from '@kurrent/kurrentdb-client';
import { afterAll } from 'vitest';
import { startTestServer, type TestServer, type TestServerOptions } from './server/index.js';
import { disposeOf } from './env.js';

/** The successor client prefers the `kurrentdb://` scheme for the same connection string. */
export function kurrentUrl(url: string): string {
  return url.replace(/^esdb(\+discover)?:\/\//, (_, discover: string | undefined) => `kurrentdb${discover ?? ''}://`);
}

/** A lazily started in-process server and a `KurrentDBClient` for it, stopped after the file's tests. */
export function inProcessServerForKurrent(options: TestServerOptions = {}) {
  let server: TestServer | undefined;
  let client: KurrentDBClient | undefined;
  afterAll(async () => {
    await disposeOf(client);
    await server?.stop();
  });
  return {
    async server(): Promise<TestServer> {
      server ??= await startTestServer({ ...options, protocol: 'kurrent' });
      return server;
    },
    async client(): Promise<KurrentDBClient> {
      client ??= KurrentDBClient.connectionString(kurrentUrl((await this.server()).url));
      return client;
    },
  };
}

/** A `KurrentDBClient` for a real server, disposed of after the file's tests. */
export function realServerForKurrent(url: string) {
  let client: KurrentDBClient | undefined;
  afterAll(async () => {
    await disposeOf(client);
  });
  return {
    async client(): Promise<KurrentDBClient> {
      client ??= KurrentDBClient.connectionString(kurrentUrl(url));
      return client;
    },
  };
}
