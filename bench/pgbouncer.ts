/**
 * Appends and catch-up through PgBouncer (transaction mode) beside the same on a direct
 * connection, on one durable server started for the run. One run, no warm-up beyond a first
 * append: the figures are for the ratio, not for absolute throughput. Run with
 * `pnpm --filter @ordo/bench exec tsx pgbouncer.ts`.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresEventStore, type PostgresEventStoreOptions } from '@ordo/postgres';
import { startPgBouncerFor } from '../test/support/pgbouncer-server.js';
import { startPostgres } from '../test/support/postgres-server.js';

const WRITERS = 16;
const APPENDS_PER_WRITER = 250;

interface Figures {
  appendsPerSecond: number;
  catchUpEventsPerSecond: number;
}

async function measure(url: string, options: Partial<PostgresEventStoreOptions>): Promise<Figures> {
  const pool = new pg.Pool({ connectionString: url, max: WRITERS });
  const schema = `bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const store = new PostgresEventStore({ ...options, pool, schema });
  try {
    await store.migrate();
    await store.appendToStream('warm-up', [{ id: randomUUID(), type: 'W', data: {} }], { expectedVersion: 'any' });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; i < APPENDS_PER_WRITER; i++) {
          await store.appendToStream(`s-${w}-${i % 10}`, [{ id: randomUUID(), type: 'E', data: { w, i } }], { expectedVersion: 'any' });
        }
      }),
    );
    const appendSeconds = (performance.now() - started) / 1000;
    const readStarted = performance.now();
    let count = 0;
    for await (const _ of store.readAll()) count++;
    const readSeconds = (performance.now() - readStarted) / 1000;
    return { appendsPerSecond: (WRITERS * APPENDS_PER_WRITER) / appendSeconds, catchUpEventsPerSecond: count / readSeconds };
  } finally {
    await store.close();
    await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    await pool.end();
  }
}

const server = await startPostgres({ durable: true });
const bouncer = await startPgBouncerFor(server.url, { mode: 'transaction', poolSize: WRITERS });
try {
  const direct = await measure(server.url, {});
  const pooled = await measure(bouncer.url, { pooler: 'transaction' });
  const row = (label: string, f: Figures) =>
    `| ${label} | ${Math.round(f.appendsPerSecond)} | ${Math.round(f.catchUpEventsPerSecond)} |`;
  console.log(`${WRITERS} writers x ${APPENDS_PER_WRITER} single-event appends, then readAll of the log`);
  console.log('| connection | appends/s | catch-up events/s |');
  console.log('| --- | --- | --- |');
  console.log(row('direct (prepared statements)', direct));
  console.log(row('PgBouncer 1.18, transaction mode (unnamed statements)', pooled));
  console.log(
    `ratios, PgBouncer / direct: appends ${(pooled.appendsPerSecond / direct.appendsPerSecond).toFixed(2)}, ` +
      `catch-up ${(pooled.catchUpEventsPerSecond / direct.catchUpEventsPerSecond).toFixed(2)}`,
  );
} finally {
  await bouncer.stop();
  await server.stop();
}
