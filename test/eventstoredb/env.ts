/** Settings and helpers of the EventStoreDB tests that load neither client. */

/** Connection string of a real server to run the suites against as well, e.g. `esdb://localhost:2113?tls=false`. */
export const REAL_SERVER_URL = process.env.EVENTSTOREDB_URL;

/** Disposes of a client; gives up waiting after a few seconds so that one stuck call cannot hang the run. */
export async function disposeOf(client: { dispose(): Promise<void> } | undefined): Promise<void> {
  if (!client) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([client.dispose(), new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
  clearTimeout(timer);
}
