/**
 * `pnpm bench` — every scenario, in one run, against the minimal store, Ordo and the peer library.
 *
 *   pnpm bench                    the full run (4–7 minutes on 2 cores, depending on load)
 *   pnpm bench --quick            small sizes: a smoke run
 *   pnpm bench --only 3           one scenario (or several: --only 1,4; --only 7e: scenario 7 on EventStoreDB)
 *   pnpm bench --stores ordo      some stores only (minimal, ordo, emmett)
 *   pnpm bench --out results      where the markdown and JSON results go (default bench/results)
 *   pnpm bench --rounds 3         rounds (default 3, --quick 1): each round runs every scenario on
 *                                 every store, in a rotated store order, so stores are interleaved
 *   pnpm bench --log-events N     the size of the log of scenario 5 (a multiple of 16), e.g. 1000000
 *
 * A PostgreSQL server is started from the binaries on the machine with its default settings
 * (fsync on), unless DATABASE_URL names one (its user needs CREATEDB). Each scenario runs
 * against each store in a child process of its own, on a database created for it and dropped
 * afterwards. Scenario 7e runs against the EventStoreDB test server, started for the run in a
 * process of its own, unless EVENTSTOREDB_URL names a server.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEventStoreDB, type BenchEventStoreDB } from './eventstoredb.js';
import { createDatabase, dropDatabase, startBenchServer, type BenchServer } from './postgres.js';
import { physicalLimits, type PhysicalLimit } from './pgbench.js';
import { renderMarkdown, SCENARIO_TITLES, type RunInfo, type StepResult } from './report.js';
import { medianResults, renderRounds, type Round } from './rounds.js';
import { FULL, ORDO_ONLY, QUICK, type Measurement, type ScenarioId, type Sizes } from './scenarios.js';
import type { StoreName } from './stores/types.js';
import type { Step, WorkerReply, WorkerTask } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const ALL_SCENARIOS: ScenarioId[] = ['1a', '1b', '2', '3', '4', '5', '6', '7', '7w', '7e'];
const ALL_STORES: StoreName[] = ['minimal', 'ordo', 'emmett'];
const CHILD_TIMEOUT_MS = 15 * 60_000;

const USAGE = 'usage: pnpm bench [--quick] [--only 1,1a,1b,2,3,4,5,6,7,7w,7e] [--stores minimal,ordo,emmett] [--rounds N] [--log-events N] [--out DIR]';

/** The command line was wrong: the message says what; the usage follows it. */
class UsageError extends Error {}

/**
 * Scenarios named by `--only`: each item is a scenario id, or else the start of some (`1` is 1a and
 * 1b; `7` is 7 alone, since it is an id of its own).
 */
function scenariosOf(list: string): ScenarioId[] {
  const chosen = new Set<ScenarioId>();
  for (const wanted of list.split(',').map((s) => s.trim())) {
    const exact = ALL_SCENARIOS.filter((s) => s === wanted);
    const matches = exact.length > 0 ? exact : ALL_SCENARIOS.filter((s) => s.startsWith(wanted));
    if (wanted === '' || matches.length === 0) throw new UsageError(`unknown scenario "${wanted}"`);
    matches.forEach((m) => chosen.add(m));
  }
  return ALL_SCENARIOS.filter((s) => chosen.has(s));
}

/** Stores named by `--stores`. */
function storesOf(list: string): StoreName[] {
  const wanted = list.split(',').map((s) => s.trim());
  for (const w of wanted) if (!ALL_STORES.includes(w as StoreName)) throw new UsageError(`unknown store "${w}"`);
  return ALL_STORES.filter((s) => wanted.includes(s));
}

/** Reads the command line with `parseArgs` (`--only 3` and `--only=3` alike). Throws {@link UsageError}. */
function parseCommandLine(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      // pnpm may pass a `--` before the script's own arguments.
      args: argv[0] === '--' ? argv.slice(1) : argv,
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string' },
        stores: { type: 'string' },
        out: { type: 'string' },
        rounds: { type: 'string' },
        'log-events': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const rounds = values.rounds === undefined ? (values.quick ? 1 : 3) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError('--rounds must be a whole number from 1');
  const logEvents = values['log-events'] === undefined ? undefined : Number(values['log-events']);
  if (logEvents !== undefined && (!Number.isInteger(logEvents) || logEvents < 16 || logEvents % 16 !== 0)) {
    throw new UsageError('--log-events must be a multiple of 16');
  }
  return {
    rounds,
    logEvents,
    help: values.help ?? false,
    quick: values.quick ?? false,
    scenarios: values.only === undefined ? ALL_SCENARIOS : scenariosOf(values.only),
    stores: values.stores === undefined ? ALL_STORES : storesOf(values.stores),
    out: values.out === undefined ? join(here, 'results') : resolve(process.cwd(), values.out),
  };
}

/** The run's options; prints the usage and exits on `--help` (0) or a bad command line (2). */
function optionsFromCommandLine() {
  try {
    const args = parseCommandLine(process.argv.slice(2));
    if (!args.help) return args;
    console.log(USAGE);
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`pnpm bench: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
}

/** Runs one step in a child process (the parent's loader flags are inherited, so it runs TypeScript). */
function runChild(task: WorkerTask): Promise<WorkerReply> {
  return new Promise((resolvePromise) => {
    const child = fork(join(here, 'worker.ts'), [JSON.stringify(task)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // The catch-up measures what stays on the heap after a full collection.
      execArgv: [...process.execArgv, '--expose-gc'],
    });
    let reply: WorkerReply | undefined;
    const timer = setTimeout(() => {
      reply ??= { ok: false, error: `timed out after ${CHILD_TIMEOUT_MS / 60_000} minutes` };
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.on('message', (message) => {
      reply = message as WorkerReply;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise(reply ?? { ok: false, error: `worker exited (${signal ?? code}) without a result` });
    });
  });
}

async function checkpoint(adminUrl: string) {
  // Flush what the previous step left dirty, so that it does not slow the next one down.
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
  } catch {
    // needs superuser (or pg_checkpoint) on a server of yours: skip
  } finally {
    await client.end();
  }
}

/**
 * Vacuums and analyses a freshly written log before it is read back, for every store alike: the
 * catch-up then measures reading a log at rest, not reading beside the autovacuum that 100,000 new
 * rows would start on the same 2 cores a moment later.
 */
async function vacuum(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('VACUUM (ANALYZE)');
  } finally {
    await client.end();
  }
}

function describe(m: Measurement): string {
  const f = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 2 : 0 });
  const latency = m.p50 !== undefined ? `, p50 ${f(m.p50)} ms, p99 ${f(m.p99!)} ms` : '';
  const extra = Object.entries(m.extra)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? f(v) : v}`)
    .join(', ');
  return `${f(m.rate)} ${m.unit}${latency} (${f(m.count)} in ${m.seconds.toFixed(1)} s)${extra ? `; ${extra}` : ''}`;
}

/** The commit measured, and whether the library's sources differ from it. */
function revision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: here, encoding: 'utf8' }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', '../packages').length > 0;
    return dirty ? `${head} with uncommitted changes in packages/` : head;
  } catch {
    return 'unknown';
  }
}

/** Runs one scenario on `stores`, in that order, each on a fresh database (7e: on the EventStoreDB server). */
async function runScenario(
  scenario: ScenarioId,
  stores: StoreName[],
  context: { adminUrl: string; sizes: Sizes; serverPid?: number; round: number; eventStore?: BenchEventStoreDB },
): Promise<StepResult[]> {
  const { adminUrl, sizes, serverPid, round, eventStore } = context;
  const results: StepResult[] = [];
  const record = (result: StepResult, reply: WorkerReply) => {
    if (reply.ok) result.measurement = reply.measurement;
    else result.error = reply.error;
    results.push(result);
    const name = result.step === '5-populate' ? `${result.store} (writing)` : result.store;
    console.log(`  ${name.padEnd(24)} ${reply.ok ? describe(reply.measurement) : `FAILED: ${reply.error}`}`);
  };
  const steps: Step[] = scenario === '5' ? ['5-populate', '5-catch-up'] : [scenario];
  for (const step of steps) console.log(SCENARIO_TITLES[step]);
  for (const store of stores) {
    const db = `bench_${scenario}_${store}`;
    if (scenario === '7e' && !eventStore) throw new Error('scenario 7e needs the EventStoreDB server');
    const url = scenario === '7e' ? eventStore!.url : await createDatabase(adminUrl, db);
    const task = (step: Step): WorkerTask => ({ step, store, url, sizes, ...(serverPid !== undefined && { serverPid }) });
    try {
      if (scenario === '5') {
        await checkpoint(adminUrl);
        const populate = await runChild(task('5-populate'));
        record({ scenario, step: '5-populate', store, round }, populate);
        if (!populate.ok) continue;
        await vacuum(url);
        await checkpoint(adminUrl);
        record({ scenario, step: '5-catch-up', store, round }, await runChild(task('5-catch-up')));
      } else {
        await checkpoint(adminUrl);
        record({ scenario, step: scenario as Step, store, round }, await runChild(task(scenario as Step)));
      }
    } finally {
      if (scenario !== '7e') await dropDatabase(adminUrl, db).catch(() => undefined);
    }
  }
  console.log('');
  return results;
}

/** The physical limit (pgbench) at 1 and 16 clients, on a database of its own. */
async function measurePhysical(adminUrl: string, quick: boolean): Promise<PhysicalLimit[]> {
  const url = await createDatabase(adminUrl, 'bench_pgbench');
  try {
    const limits = await physicalLimits(url, [1, 16], quick ? 3 : 10);
    for (const l of limits) console.log(`pgbench, 1-row INSERT, ${l.clients} client(s): ${Math.round(l.commitsPerSecond)} commits/s`);
    return limits;
  } catch (error) {
    console.log(`pgbench failed: ${String(error).split('\n')[0]}`);
    return [];
  } finally {
    await dropDatabase(adminUrl, 'bench_pgbench').catch(() => undefined);
  }
}

type Options = ReturnType<typeof parseCommandLine>;

/** Runs the rounds: each runs every scenario on every store, in a store order rotated per round. */
async function runRounds(args: Options, sizes: Sizes, server: BenchServer, eventStore: BenchEventStoreDB | undefined): Promise<Round[]> {
  const rounds: Round[] = [];
  const cores = cpus().length;
  for (let round = 1; round <= args.rounds; round++) {
    const before = loadavg()[0]!;
    console.log(`== round ${round} of ${args.rounds} (1-minute load average ${before.toFixed(2)}) ==`);
    const physical = await measurePhysical(server.adminUrl, args.quick);
    const results: StepResult[] = [];
    // Rotating the order interleaves the stores: none always runs first, or last, in a round.
    const shift = (round - 1) % args.stores.length;
    const stores = [...args.stores.slice(shift), ...args.stores.slice(0, shift)];
    for (const scenario of args.scenarios) {
      const these = ORDO_ONLY.includes(scenario) ? stores.filter((s) => s === 'ordo') : stores;
      const context = {
        adminUrl: server.adminUrl,
        sizes,
        round,
        ...(server.postmasterPid !== undefined && { serverPid: server.postmasterPid }),
        ...(eventStore && { eventStore }),
      };
      results.push(...(await runScenario(scenario, these, context)));
    }
    const after = loadavg()[0]!;
    rounds.push({ round, loadBefore: before, loadAfter: after, overloaded: Math.max(before, after) > cores, physical, results });
  }
  return rounds;
}

async function main() {
  const args = optionsFromCommandLine();
  const sizes: Sizes = { ...(args.quick ? QUICK : FULL), ...(args.logEvents !== undefined && { logEvents: args.logEvents }) };
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  const measured = revision();
  const server = await startBenchServer();
  let eventStore: BenchEventStoreDB | undefined;
  let rounds: Round[];
  try {
    eventStore = args.scenarios.includes('7e') ? await startEventStoreDB() : undefined;
    console.log(`PostgreSQL: ${server.version.split(',')[0]} (${server.own ? 'started for this run' : 'DATABASE_URL'})`);
    console.log(`settings: ${Object.entries(server.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    if (eventStore) console.log(`EventStoreDB: ${eventStore.description}`);
    console.log(`${args.quick ? 'quick' : 'full'} run, ${args.rounds} round(s): scenarios ${args.scenarios.join(', ')}; stores ${args.stores.join(', ')}\n`);
    rounds = await runRounds(args, sizes, server, eventStore);
  } finally {
    await Promise.all([server.stop(), eventStore?.stop()]);
  }
  const cpu = cpus();
  const info: RunInfo = {
    date: new Date().toISOString(),
    mode: args.quick ? 'quick' : 'full',
    command: ['pnpm bench', ...process.argv.slice(2).filter((a) => a !== '--')].join(' '),
    machine: `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM`,
    node: process.version,
    postgres: server.version.split(',')[0]!,
    settings: server.settings,
    wallSeconds: (performance.now() - started) / 1000,
    revision: measured,
    load: `${loadBefore.toFixed(2)} before the run, ${loadavg()[0]!.toFixed(2)} after it`,
    ...(eventStore && { eventStoreDB: eventStore.description }),
  };
  const all = rounds.flatMap((r) => r.results);
  const markdown = `${renderMarkdown(info, medianResults(rounds))}\n\n${renderRounds(rounds, cpu.length)}\n`;
  await mkdir(args.out, { recursive: true });
  await writeFile(join(args.out, 'latest.md'), markdown);
  await writeFile(join(args.out, 'latest.json'), JSON.stringify({ info, rounds }, null, 2));
  console.log(markdown);
  console.log(`\nwritten: ${join(args.out, 'latest.md')} and latest.json`);
  const failed = all.filter((r) => r.error).length;
  if (failed > 0) {
    console.error(`${failed} step(s) failed`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
