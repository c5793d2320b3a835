/**
 * Runs one scenario step against one store in this process, and sends the measurement to the
 * parent. A process per step keeps the stores apart (the peer library changes `pg`'s global type
 * parsers) and makes the peak memory of a catch-up that catch-up's own.
 */
import { checkouts } from './checkouts.js';
import { multiProcessCheckouts } from './checkouts-multi.js';
import { setServerPid } from './cpu.js';
import {
  batchAppends,
  catchUp,
  contendedCommands,
  populateLog,
  singleAppends,
  streamReads,
  WRITERS,
  type Measurement,
  type Sizes,
} from './scenarios.js';
import type { BenchStore, StoreName } from './stores/types.js';

export type Step = '1a' | '1b' | '2' | '3' | '4' | '5-populate' | '5-catch-up' | '6' | '7' | '7w' | '7e';

export interface WorkerTask {
  step: Step;
  store: StoreName;
  /** The step's database; for 7e, the EventStoreDB server. */
  url: string;
  sizes: Sizes;
  /** The server's postmaster, when the bench started it: its CPU is measured too. */
  serverPid?: number;
}

export type WorkerReply = { ok: true; measurement: Measurement } | { ok: false; error: string };

async function openStore(task: WorkerTask): Promise<BenchStore> {
  switch (task.store) {
    case 'minimal':
      return (await import('./stores/minimal.js')).createMinimalStore(task.url);
    case 'ordo':
      return (await import('./stores/ordo.js')).createOrdoStore(task.url);
    case 'emmett':
      return (await import('./stores/emmett.js')).createEmmettStore(task.url);
  }
}

async function runStep(task: WorkerTask): Promise<Measurement> {
  const { sizes } = task;
  setServerPid(task.serverPid);
  if (task.step === '6') return checkouts(task.url, sizes.checkouts);
  if (task.step === '7') return multiProcessCheckouts('postgres', task.url, sizes.checkouts);
  if (task.step === '7w') return multiProcessCheckouts('postgres', task.url, sizes.checkouts, 3, { numberingThread: true });
  if (task.step === '7e') return multiProcessCheckouts('eventstoredb', task.url, sizes.checkouts);
  const store = await openStore(task);
  try {
    switch (task.step) {
      case '1a':
        return await singleAppends(store, sizes.singleAppends, 1);
      case '1b':
        return await singleAppends(store, sizes.concurrentAppends, WRITERS);
      case '2':
        return await batchAppends(store, sizes.batches);
      case '3':
        return await contendedCommands(store, sizes.commands);
      case '4':
        return await streamReads(store, sizes.streamLength, sizes.reads);
      case '5-populate':
        return await populateLog(store, sizes.logEvents);
      case '5-catch-up':
        return await catchUp(store, sizes.logEvents);
    }
  } finally {
    await store.close();
  }
}

const task = JSON.parse(process.argv[2] ?? '{}') as WorkerTask;
const reply = (message: WorkerReply) =>
  new Promise<void>((resolve) => (process.send ? process.send(message, () => resolve()) : (console.log(JSON.stringify(message)), resolve())));

runStep(task).then(
  async (measurement) => {
    await reply({ ok: true, measurement });
    process.exit(0);
  },
  async (error: unknown) => {
    await reply({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  },
);
