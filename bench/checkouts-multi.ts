/**
 * 7 and 7e: a burst of checkouts from several order service processes sharing one PostgreSQL (7)
 * or one EventStoreDB (7e). Each process runs its own order-numbers projection copy and waits for
 * numbers through its own store (on PostgreSQL woken by NOTIFY from whichever copy numbered the
 * order; on EventStoreDB by its subscription to `$all`). Measured in the same run: placement p99
 * and time-to-number p99, over all processes; the numbers must be unique and gapless.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrderNumber } from '@ordo/orders';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import pg from 'pg';
import type { CheckoutBackend, ServiceReport, ServiceTask } from './checkout-service.js';
import { freshNumbering, startProjectionAtHead } from './eventstoredb.js';
import type { Measurement } from './scenarios.js';
import { Latencies, seconds } from './stats.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Starts a service process; resolves once it has warmed up and waits for the signal. */
function startService(task: ServiceTask): { child: ChildProcess; ready: Promise<void>; report: Promise<ServiceReport> } {
  const child = fork(join(here, 'checkout-service.ts'), [JSON.stringify(task)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let readyResolve!: () => void;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  const report = new Promise<ServiceReport>((resolve, reject) => {
    child.on('message', (message) => {
      if (message === 'ready') readyResolve();
      else resolve(message as ServiceReport);
    });
    child.on('exit', (code) => reject(new Error(`service ${task.index} exited (${code}) before reporting`)));
  });
  return { child, ready, report };
}

/**
 * Readies the store for the services; returns the numbering they share, when not the default. A
 * PostgreSQL database is fresh for each step; an EventStoreDB server keeps what came before it.
 */
async function prepare(backend: CheckoutBackend, url: string, run: string): Promise<ServiceTask['numbering']> {
  if (backend === 'eventstoredb') {
    const numbering = freshNumbering(run);
    await startProjectionAtHead(url, numbering.name);
    return numbering;
  }
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await new PostgresEventStore({ pool }).migrate();
  await new PostgresCheckpointStore({ pool }).migrate();
  await pool.end();
  return undefined;
}

/** Runs `count` checkouts at once, shared among `processes` service processes on `backend` at `url`. */
export async function multiProcessCheckouts(
  backend: CheckoutBackend,
  url: string,
  count: number,
  processes = 3,
  { numberingThread = false } = {},
): Promise<Measurement> {
  const run = crypto.randomUUID();
  const numbering = await prepare(backend, url, run);
  const shares = Array.from({ length: processes }, (_, i) => Math.floor(count / processes) + (i < count % processes ? 1 : 0));
  const services = shares.map((share, index) => startService({ backend, url, count: share, run, index, numberingThread, ...(numbering && { numbering }) }));
  try {
    await Promise.all(services.map((s) => s.ready));
    const start = performance.now();
    for (const s of services) s.child.send('go');
    const reports = await Promise.all(services.map((s) => s.report));
    const took = seconds(start);
    const place = new Latencies();
    const total = new Latencies();
    for (const r of reports) {
      r.placeMs.forEach((ms) => place.add(ms));
      r.totalMs.forEach((ms) => total.add(ms));
    }
    // A number of another prefix than this run's counts as a gap.
    const sequenceOf = (number: string) => {
      const parsed = parseOrderNumber(number);
      return parsed && (!numbering || parsed.prefix === numbering.prefix) ? parsed.sequence : -1;
    };
    const sequences = reports.flatMap((r) => r.numbers).map(sequenceOf).sort((a, b) => a - b);
    // Warm-up orders were numbered first (5 per process): the burst's numbers follow them without a gap or repeat.
    const warm = 5 * processes;
    let gapsOrRepeats = 0;
    sequences.forEach((s, i) => {
      if (s !== warm + i + 1) gapsOrRepeats++;
    });
    const errors = reports.reduce((n, r) => n + r.errors, 0);
    const firstError = reports.find((r) => r.firstError)?.firstError;
    return {
      rate: total.count / took,
      unit: 'orders/s',
      count: total.count,
      seconds: took,
      ...total.summary(),
      extra: {
        processes,
        placeP50: place.percentile(50),
        placeP99: place.percentile(99),
        p99OverPlacement: total.percentile(99) - place.percentile(99),
        errors,
        gapsOrRepeats,
        ...(firstError !== undefined && { firstError: firstError.slice(0, 200) }),
      },
    };
  } finally {
    for (const s of services) if (s.child.connected) s.child.send('stop');
    await Promise.all(services.map((s) => new Promise((resolve) => (s.child.exitCode !== null ? resolve(null) : s.child.once('exit', resolve)))));
  }
}
