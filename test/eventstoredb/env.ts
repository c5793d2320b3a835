/** Settings and helpers of the EventStoreDB tests that load neither client. */

/** Connection string of a real server to run the suites against as well, e.g. `esdb://localhost:2113?tls=false`. */
export const REAL_SERVER_URL = process.env.EVENTSTOREDB_URL;

/**
 * Whether that server has KurrentDB's multi-stream append (25.1 or later): set
 * `EVENTSTOREDB_MULTI_STREAM=1` for such a server, and the KurrentDB client's suites expect it to work;
 * otherwise they expect `UnsupportedOperationError`.
 */
export const REAL_SERVER_MULTI_STREAM = process.env.EVENTSTOREDB_MULTI_STREAM === '1' ? 'supported' : 'unsupported';

/** Disposes of a client; gives up waiting after a few seconds so that one stuck call cannot hang the run. */
export async function disposeOf(client: { dispose(): Promise<void> } | undefined): Promise<void> {
  if (!client) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([client.dispose(), new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
  clearTimeout(timer);
}
