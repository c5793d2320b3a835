/**
 * The scenarios, each run in a child process of its own against one store and a fresh database.
 * Every scenario warms up (connections, prepared statements, JIT) before it measures.
 */
import { cpuPer, startCpu } from './cpu.js';
import { Latencies, runConcurrently, seconds } from './stats.js';
import type { BenchEvent, BenchStore } from './stores/types.js';

export type ScenarioId = '1a' | '1b' | '2' | '3' | '4' | '5' | '6' | '7' | '7w' | '7e';

/** The checkout scenarios, which run on Ordo only (the other stores have no order domain). */
export const ORDO_ONLY: readonly string[] = ['6', '7', '7w', '7e'];

export interface Sizes {
  /** 1a: single-event appends, one writer. */
  singleAppends: number;
  /** 1b: single-event appends in all, 16 writers. */
  concurrentAppends: number;
  /** 2: batches of 100 events. */
  batches: number;
  /** 3: successful commands on the contended stream. */
  commands: number;
  /** 4: length of the stream read, and how many times it is read. */
  streamLength: number;
  reads: number;
  /** 5: events written by 16 writers (a multiple of 16), then caught up by a projection. */
  logEvents: number;
  /** 6, 7 and 7e: concurrent checkouts (7 and 7e: in all, over 3 service processes). */
  checkouts: number;
}

export const FULL: Sizes = {
  singleAppends: 1_000,
  concurrentAppends: 16_000,
  batches: 300,
  commands: 2_000,
  streamLength: 10_000,
  reads: 20,
  logEvents: 100_000,
  checkouts: 1_000,
};

export const QUICK: Sizes = {
  singleAppends: 200,
  concurrentAppends: 1_600,
  batches: 20,
  commands: 200,
  streamLength: 2_000,
  reads: 5,
  logEvents: 4_800,
  checkouts: 100,
};

export const WRITERS = 16;
export const BATCH = 100;
/** Events per append while writing the log for the catch-up. */
export const LOG_BATCH = 10;

/** What one scenario measured on one store. */
export interface Measurement {
  /** Throughput in `unit`. */
  rate: number;
  unit: 'events/s' | 'commands/s' | 'orders/s';
  /** Operations measured, and wall-clock seconds they took. */
  count: number;
  seconds: number;
  /** Latency of one operation (append, command, read, checkout), ms. */
  p50?: number;
  p99?: number;
  /** Scenario-specific figures; `clientCpuUs` and `serverCpuUs` are CPU µs per event (command, order). */
  extra: Record<string, number | string>;
}

let eventSeq = 0;
/** A small order-like event, the same for every store. */
export function benchEvent(data: Record<string, unknown> = {}): BenchEvent {
  eventSeq++;
  return {
    id: crypto.randomUUID(),
    type: 'ItemAdded',
    data: { sku: `SKU-${eventSeq % 1000}`, quantity: 1 + (eventSeq % 5), unitPrice: { amount: 1250, currency: 'EUR' }, ...data },
    metadata: { correlationId: 'bench', actor: 'bench' },
  };
}

const newStream = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

/** 1a and 1b: one event per append, each to a new stream. */
export async function singleAppends(store: BenchStore, total: number, writers: number): Promise<Measurement> {
  await runConcurrently(Math.max(100, writers * 10), writers, () => store.append(newStream('warm'), [benchEvent()], 0));
  const latencies = new Latencies();
  const cpu = startCpu();
  const start = performance.now();
  await runConcurrently(total, writers, () => latencies.time(() => store.append(newStream('order'), [benchEvent()], 0)));
  const took = seconds(start);
  return { rate: total / took, unit: 'events/s', count: total, seconds: took, ...latencies.summary(), extra: cpuPer(cpu(), total) };
}

/** 2: batches of 100 events, one writer, each batch a new stream. */
export async function batchAppends(store: BenchStore, batches: number): Promise<Measurement> {
  const batch = () => Array.from({ length: BATCH }, () => benchEvent());
  for (let i = 0; i < 5; i++) await store.append(newStream('warm'), batch(), 0);
  const latencies = new Latencies();
  const cpu = startCpu();
  const start = performance.now();
  for (let i = 0; i < batches; i++) {
    const events = batch();
    await latencies.time(() => store.append(newStream('cart'), events, 0));
  }
  const took = seconds(start);
  const events = batches * BATCH;
  return {
    rate: events / took,
    unit: 'events/s',
    count: events,
    seconds: took,
    ...latencies.summary(),
    extra: { batches, ...cpuPer(cpu(), events) },
  };
}

/** Scenario 3 stops starting commands after this long (a store that slow is measured on fewer). */
export const CONTENDED_CAP_S = 60;

/**
 * 3: 16 writers on one stream, each a command (read, decide, append with the expected version,
 * retry on conflict) until `commands` have succeeded. The stream's events must then count
 * 1, 2, 3, ... with no gap and no repeat: a lost update would show as a repeated count.
 */
export async function contendedCommands(store: BenchStore, commands: number): Promise<Measurement> {
  const stream = newStream('counter');
  await store.append(stream, [{ ...benchEvent(), type: 'Incremented', data: { n: 1, writer: -1 } }], 0);
  // Warm-up on another stream, one writer.
  const warm = newStream('counter');
  await store.append(warm, [{ ...benchEvent(), type: 'Incremented', data: { n: 1, writer: -1 } }], 0);
  for (let i = 0; i < 20; i++) await store.command(warm, 0);

  const latencies = new Latencies();
  let succeeded = 0;
  let inFlight = 0;
  let conflicts = 0;
  let worstRetries = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpu = startCpu();
  const start = performance.now();
  const deadline = start + CONTENDED_CAP_S * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      // Start a command only while the ones that succeeded or still run fall short of the goal
      // (a failed command is replaced; the bound on errors keeps a broken store from spinning).
      while (succeeded + inFlight < commands && errors < commands && performance.now() < deadline) {
        inFlight++;
        const t0 = performance.now();
        const outcome = await store.command(stream, writer);
        latencies.add(performance.now() - t0);
        inFlight--;
        conflicts += outcome.attempts - 1;
        worstRetries = Math.max(worstRetries, outcome.attempts - 1);
        if (outcome.error) {
          errors++;
          firstError ??= outcome.error instanceof Error ? `${outcome.error.name}: ${outcome.error.message}` : String(outcome.error);
        } else {
          succeeded++;
        }
      }
    }),
  );
  const took = seconds(start);
  const used = cpu();
  const events = await store.readStream(stream);
  let broken = 0;
  events.forEach((data, i) => {
    if (data.n !== i + 1) broken++;
  });
  const lostOrRepeated = broken + Math.abs(events.length - (succeeded + 1));
  return {
    rate: succeeded / took,
    unit: 'commands/s',
    count: succeeded,
    seconds: took,
    ...latencies.summary(),
    extra: {
      ...(succeeded < commands && { stopped: `after ${CONTENDED_CAP_S} s` }),
      conflictsPerSuccess: conflicts / Math.max(1, succeeded),
      worstRetries,
      errors,
      lostOrRepeated,
      ...cpuPer(used, succeeded),
      ...(firstError !== undefined && { firstError: firstError.slice(0, 200) }),
    },
  };
}

/** 4: reads of one stream of `length` events (written in batches of 100). */
export async function streamReads(store: BenchStore, length: number, reads: number): Promise<Measurement> {
  const stream = newStream('long');
  for (let written = 0; written < length; written += BATCH) {
    await store.append(stream, Array.from({ length: BATCH }, () => benchEvent()), written);
  }
  for (let i = 0; i < 3; i++) await store.readStream(stream);
  const latencies = new Latencies();
  let wrong = 0;
  const cpu = startCpu();
  const start = performance.now();
  for (let i = 0; i < reads; i++) {
    const events = await latencies.time(() => store.readStream(stream));
    if (events.length !== length) wrong++;
  }
  const took = seconds(start);
  return {
    rate: (reads * length) / took,
    unit: 'events/s',
    count: reads * length,
    seconds: took,
    ...latencies.summary(),
    extra: { reads, wrongLength: wrong, ...cpuPer(cpu(), reads * length) },
  };
}

/** Heap in use after a full collection (needs `--expose-gc`, which the runner passes), else undefined. */
function heapAfterGc(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function perWriterOf(total: number): number {
  if (!Number.isInteger(total / WRITERS)) throw new Error(`the log size ${total} must be a multiple of ${WRITERS}`);
  return total / WRITERS;
}

/**
 * 5, first half: 16 writers append `total` events concurrently, each writer 10-event batches to
 * new streams of its own, so transactions commit out of position order. Each event carries its
 * writer and sequence number, so the projection can tell what it missed and what it got twice.
 */
export async function populateLog(store: BenchStore, total: number): Promise<Measurement> {
  const perWriter = perWriterOf(total);
  const cpu = startCpu();
  const start = performance.now();
  const latencies = new Latencies();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let s = 0; s < perWriter; s += LOG_BATCH) {
        const events = Array.from({ length: Math.min(LOG_BATCH, perWriter - s) }, (_, k) => benchEvent({ w, s: s + k }));
        await latencies.time(() => store.append(newStream(`w${w}`), events, 0));
      }
    }),
  );
  const took = seconds(start);
  return { rate: total / took, unit: 'events/s', count: total, seconds: took, ...latencies.summary(), extra: cpuPer(cpu(), total) };
}

/**
 * 5, second half (in a fresh process): the store's projection mechanism catches up over the log,
 * until it reports the end of the log itself.
 */
export async function catchUp(store: BenchStore, total: number): Promise<Measurement> {
  const perWriter = perWriterOf(total);
  const deliveries = new Uint8Array(total);
  let delivered = 0;
  let malformed = 0;
  // The store's plain read of the whole log first: the runner is measured against it.
  let readAllRate: number | undefined;
  if (store.readAll) {
    let read = 0;
    const t0 = performance.now();
    await store.readAll({ onEvent: () => void read++ });
    readAllRate = read / seconds(t0);
  }
  const heapBefore = heapAfterGc();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let atTenth = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const cpu = startCpu();
  const start = performance.now();
  await store.catchUp({
    onEvent(data) {
      const w = data.w;
      const s = data.s;
      if (typeof w !== 'number' || typeof s !== 'number' || w < 0 || w >= WRITERS || s < 0 || s >= perWriter) {
        malformed++;
        return;
      }
      const i = w * perWriter + s;
      if (deliveries[i]! < 255) deliveries[i]!++;
      delivered++;
      if (delivered === Math.floor(total / 10)) atTenth = process.memoryUsage().rss;
    },
  });
  const took = seconds(start);
  const used = cpu();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const heapAfter = heapAfterGc();
  let missed = 0;
  let twice = 0;
  for (const n of deliveries) {
    if (n === 0) missed++;
    else if (n > 1) twice += n - 1;
  }
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  return {
    rate: delivered / took,
    unit: 'events/s',
    count: delivered,
    seconds: took,
    extra: {
      missed,
      deliveredTwice: twice,
      malformed,
      rssBeforeMB: mb(baseline),
      rssAtTenthMB: mb(atTenth),
      peakRssMB: mb(peak),
      ...(heapBefore !== undefined && heapAfter !== undefined && {
        heapRetainedMB: Math.round(((heapAfter - heapBefore) / 1024 / 1024) * 10) / 10,
        heapAfterPercent: Math.round((heapAfter / heapBefore) * 1000) / 10,
      }),
      ...(readAllRate !== undefined && { readAllRate, vsReadAll: Math.round(((delivered / took) / readAllRate) * 100) / 100 }),
      ...cpuPer(used, delivered),
    },
  };
}
