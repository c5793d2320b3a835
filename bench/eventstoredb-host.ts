/**
 * A process of its own for the EventStoreDB test server of scenario 7e (`test/eventstoredb/server`,
 * an in-memory server that speaks EventStoreDB's gRPC protocol). Started by the bench's parent
 * process with `fork`; sends `{ url }` once it listens, and stops when told or when the parent goes.
 *
 * Why a process of its own: the server stands where PostgreSQL stands in scenario 7, a server
 * process apart from its clients. In the parent's (or a service's) event loop, its gRPC work and the
 * clients' work would delay each other and blur what is measured.
 */
import { startTestServer } from '../test/eventstoredb/server/index.js';

async function main() {
  const server = await startTestServer({
    // The services use the KurrentDB client; a server process serves one client's protocol.
    protocol: 'kurrent',
    // Statistics records as a node writes them (every 30 s), not every 25 ms as tests want them.
    systemRecords: { intervalMs: 30_000 },
  });
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.once('message', () => void stop());
  process.once('disconnect', () => void stop());
  process.send!({ url: server.url });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
