// Scratch experiment (not committed): 16 writers through PostgresEventStore, counting statements.
import pg from 'pg';
import { PostgresEventStore } from '@ordo/postgres';
import { createDatabase, dropDatabase, startBenchServer } from './postgres.js';
import { setServerPid, startCpu } from './cpu.js';
import { benchEvent } from './scenarios.js';

const counts = new Map<string, number>();
const orig = pg.Client.prototype.query as (...a: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: unknown }).query = function (this: unknown, ...args: unknown[]) {
  const q = args[0] as { name?: string; text?: string } | string;
  const key = typeof q === 'string' ? q.slice(0, 30) : (q.name ?? q.text?.slice(0, 30) ?? '?');
  counts.set(key, (counts.get(key) ?? 0) + 1);
  return orig.apply(this, args);
};

async function main() {
  const server = await startBenchServer();
  setServerPid(server.postmasterPid);
  const writers = Number(process.env.WRITERS ?? 16);
  const per = Number(process.env.PER ?? 1000);
  for (const notifyIntervalMs of (process.env.INTERVALS ?? '0,10').split(',').map(Number)) {
    const url = await createDatabase(server.adminUrl, 'scratch');
    const pool = new pg.Pool({ connectionString: url, max: 20 });
    const store = new PostgresEventStore({ pool, notifyIntervalMs });
    await store.migrate();
    for (let i = 0; i < 200; i++) await store.appendToStream(crypto.randomUUID(), [benchEvent()], { expectedVersion: 'no_stream' });
    counts.clear();
    const stop = startCpu();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: writers }, async () => {
      for (let i = 0; i < per; i++) await store.appendToStream(crypto.randomUUID(), [benchEvent()], { expectedVersion: 'no_stream' });
    }));
    const ms = performance.now() - t0;
    const cpu = stop();
    const n = writers * per;
    console.log(`interval ${notifyIntervalMs}: ${(n / ms * 1000).toFixed(0)}/s client ${(cpu.clientMs * 1000 / n).toFixed(0)}µs server ${((cpu.serverMs ?? 0) * 1000 / n).toFixed(0)}µs`, Object.fromEntries(counts));
    await store.close();
    await pool.end();
    await dropDatabase(server.adminUrl, 'scratch');
  }
  await server.stop();
}
main().catch((e) => { console.error(e); process.exit(1); });
