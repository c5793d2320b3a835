/** Turns the measurements of one run into markdown: per-scenario tables, Ordo's ratios, the targets. */
import { ORDO_ONLY, type Measurement, type ScenarioId } from './scenarios.js';
import { STORE_LABELS, type StoreName } from './stores/types.js';
import type { Step } from './worker.js';

export interface StepResult {
  scenario: ScenarioId;
  step: Step;
  store: StoreName;
  /** The round of the run it was measured in (from 1). */
  round?: number;
  measurement?: Measurement;
  error?: string;
}

export interface RunInfo {
  date: string;
  mode: 'full' | 'quick';
  command: string;
  machine: string;
  node: string;
  postgres: string;
  settings: Record<string, string>;
  wallSeconds: number;
  /** 1-minute load average before and after: other work on the machine skews the figures. */
  load: string;
  /** Git commit of the code measured. */
  revision: string;
  /** The EventStoreDB server of scenario 7e, when it ran. */
  eventStoreDB?: string;
}

export const SCENARIO_TITLES: Record<Step, string> = {
  '1a': '1a. Single-event appends to new streams, 1 writer',
  '1b': '1b. Single-event appends to new streams, 16 concurrent writers',
  '2': '2. 100-event batch appends, 1 writer',
  '3': '3. 16 writers on one stream, read-decide-append commands with retry',
  '4': '4. readStream of one long stream',
  '5-populate': '5a. Writing the log for the catch-up: 16 concurrent writers, 10-event appends',
  '5-catch-up': '5b. A projection catching up over the whole log',
  '6': '6. Concurrent checkouts until every order has its number (Ordo only)',
  '7': '7. A burst of checkouts from 3 service processes sharing one PostgreSQL, until every order has its number (Ordo only)',
  '7w': '7w. The same burst on PostgreSQL, each service numbering in a worker thread of its own (Ordo only)',
  '7e': '7e. The same burst from 3 service processes sharing one EventStoreDB, through @ordo/eventstoredb (Ordo only)',
};

const fmt = (n: number | undefined, digits = 0): string => {
  if (n === undefined || Number.isNaN(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
};
const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : n < 10 ? fmt(n, 2) : n < 100 ? fmt(n, 1) : fmt(n, 0));
const cpuUs = (n: number | undefined) => (n === undefined ? '–' : fmt(n, n < 100 ? 1 : 0));
const us = (n: number | undefined) => (n === undefined ? '–' : `${cpuUs(n)} µs`);
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${fmt(a / b, 2)}×` : '–');

function label(result: StepResult): string {
  if (result.step === '5-catch-up') {
    return {
      minimal: 'minimal: pages by position (safe only after writers stop)',
      ordo: 'Ordo: projection runner, PostgresCheckpointStore',
      emmett: 'emmett: consumer with a reactor',
    }[result.store];
  }
  if (result.step === '7e') return 'Ordo (@ordo/eventstoredb, KurrentDB client)';
  return STORE_LABELS[result.store];
}

function ordoOf(results: StepResult[], step: Step): StepResult | undefined {
  return results.find((r) => r.step === step && r.store === 'ordo');
}
function storeOf(results: StepResult[], step: Step, store: StoreName): StepResult | undefined {
  return results.find((r) => r.step === step && r.store === store);
}

type ExtraColumn = [key: string, title: string, digits: number];

/** Scenarios 7 and 7e report the same, so that they can be read side by side. */
const BURST_COLUMNS: ExtraColumn[] = [
  ['placeP50', 'placeOrder p50 ms', 0],
  ['placeP99', 'placeOrder p99 ms', 0],
  ['p99OverPlacement', 'time-to-number p99 − placement p99, ms', 0],
  ['errors', 'errors', 0],
  ['gapsOrRepeats', 'number gaps or repeats', 0],
];

const EXTRA_COLUMNS: Partial<Record<Step, ExtraColumn[]>> = {
  '3': [
    ['conflictsPerSuccess', 'conflicts per success', 2],
    ['worstRetries', 'worst retries', 0],
    ['errors', 'errors', 0],
    ['lostOrRepeated', 'lost or repeated updates', 0],
  ],
  '4': [['wrongLength', 'short reads', 0]],
  '5-catch-up': [
    ['missed', 'missed', 0],
    ['deliveredTwice', 'delivered twice', 0],
    ['rssAtTenthMB', 'RSS at 10% (MB)', 0],
    ['peakRssMB', 'peak RSS (MB)', 0],
    ['heapRetainedMB', 'heap kept after GC (MB)', 1],
    ['heapAfterPercent', 'heap after, % of before', 1],
    ['readAllRate', 'readAll alone, events/s', 0],
  ],
  '6': [
    ['placeP50', 'placeOrder p50 ms', 0],
    ['placeP99', 'placeOrder p99 ms', 0],
    ['errors', 'errors', 0],
    ['gapsOrRepeats', 'number gaps or repeats', 0],
    ['inProcessP50', 'p50 ms, waiting in-process', 0],
    ['inProcessP99', 'p99 ms, waiting in-process', 0],
    ['numberingMsPerOrder', 'numbering alone, ms per order', 2],
  ],
  '7': BURST_COLUMNS,
  '7w': BURST_COLUMNS,
  '7e': BURST_COLUMNS,
};

function perWhat(unit: string): string {
  return unit === 'commands/s' ? 'command' : unit === 'orders/s' ? 'order' : 'event';
}

function cpuOf(m: Measurement | undefined): number | undefined {
  if (!m || typeof m.extra.clientCpuUs !== 'number' || typeof m.extra.serverCpuUs !== 'number') return undefined;
  return m.extra.clientCpuUs + m.extra.serverCpuUs;
}

/** The table of `step`; with `beside`, that step's rows too, under `title` (steps with the same columns). */
function stepTable(results: StepResult[], step: Step, beside?: { step: Step; title: string }): string {
  const rows = results.filter((r) => r.step === step || r.step === beside?.step);
  if (rows.length === 0) return '';
  const unit = rows.find((r) => r.measurement)?.measurement?.unit ?? 'events/s';
  const extras = EXTRA_COLUMNS[step] ?? [];
  const latency = step !== '5-catch-up';
  const ordo = ordoOf(results, step)?.measurement;
  const header = [
    'store',
    unit,
    ...(latency ? ['p50 ms', 'p99 ms'] : []),
    ...extras.map(([, title]) => title),
    `client CPU µs per ${perWhat(unit)}`,
    `server CPU µs per ${perWhat(unit)}`,
    ...(ORDO_ONLY.includes(step) ? [] : ['Ordo ÷ this']),
    'measured',
  ];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows) {
    const m = r.measurement;
    if (!m) {
      lines.push(`| ${label(r)} | failed: ${(r.error ?? '').split('\n')[0]!.slice(0, 160).replace(/\|/g, '/')} |`);
      continue;
    }
    const isOrdoHeadline = r.store === 'ordo';
    lines.push(
      `| ${[
        label(r),
        fmt(m.rate),
        ...(latency ? [ms(m.p50), ms(m.p99)] : []),
        ...extras.map(([key, , digits]) => (typeof m.extra[key] === 'number' ? fmt(m.extra[key] as number, digits) : String(m.extra[key] ?? '–'))),
        cpuUs(m.extra.clientCpuUs as number | undefined),
        cpuUs(m.extra.serverCpuUs as number | undefined),
        ...(ORDO_ONLY.includes(step) ? [] : [isOrdoHeadline ? '–' : ratio(ordo?.rate, m.rate)]),
        `${fmt(m.count)} in ${fmt(m.seconds, 1)} s`,
      ].join(' | ')} |`,
    );
  }
  const errors = rows
    .map((r) => (r.measurement?.extra.firstError ? `- ${label(r)}, first error: \`${r.measurement.extra.firstError}\`` : ''))
    .filter(Boolean);
  return [`### ${beside?.title ?? SCENARIO_TITLES[step]}`, '', ...lines, ...(errors.length ? ['', ...errors] : []), ''].join('\n');
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

export function checkTargets(results: StepResult[]): TargetCheck[] {
  const m = (step: Step, store: StoreName) => (store === 'ordo' ? ordoOf(results, step) : storeOf(results, step, store))?.measurement;
  const checks: TargetCheck[] = [];
  const againstMinimal = (step: Step, what: string) => {
    const o = m(step, 'ordo');
    const min = m(step, 'minimal');
    if (o && min) {
      checks.push({ target: `${what}: ≥ 0.8× the minimal store`, measured: `${fmt(o.rate)} ${o.unit} = ${fmt(o.rate / min.rate, 2)}× minimal`, met: o.rate >= 0.8 * min.rate });
    }
  };
  againstMinimal('1a', '1 writer, 1 event per append');
  againstMinimal('1b', '16 writers, 1 event per append');
  const o1 = m('1b', 'ordo');
  const e1 = m('1b', 'emmett');
  if (o1 && e1) {
    checks.push({ target: '16 writers: ≥ 3× the peer', measured: `${fmt(o1.rate / e1.rate, 2)}× the peer`, met: o1.rate >= 3 * e1.rate });
  }
  againstMinimal('2', '100-event batches');
  againstMinimal('4', 'readStream of a 10,000-event stream');
  const o5 = m('5-catch-up', 'ordo');
  if (o5) {
    const missed = Number(o5.extra.missed);
    const twice = Number(o5.extra.deliveredTwice);
    const vs = o5.extra.vsReadAll;
    const heap = o5.extra.heapAfterPercent;
    checks.push({
      target: 'catch-up: ≥ 0.9× the store’s readAll, ≥ 100,000 events/s, nothing missed or doubled, heap after within 10% of before',
      measured:
        `${fmt(o5.rate)} events/s = ${typeof vs === 'number' ? fmt(vs, 2) : '–'}× readAll (${fmt(o5.extra.readAllRate as number | undefined)} events/s), ` +
        `${fmt(missed)} missed, ${fmt(twice)} twice; heap after ${heap ?? '–'}% of before`,
      met: o5.rate >= 100_000 && typeof vs === 'number' && vs >= 0.9 && missed === 0 && twice === 0 && typeof heap === 'number' && heap <= 110,
    });
  }
  for (const step of ['6', '7', '7w', '7e'] as const) {
    const o6 = m(step, 'ordo');
    if (!o6) continue;
    const place = Number(o6.extra.placeP99);
    checks.push({
      target: `${step}. checkouts: time-to-number p99 ≤ placement p99 + 50 ms, numbers unique and gapless`,
      measured: `p99 ${ms(o6.p99)} ms against placement p99 ${ms(place)} ms; ${o6.extra.errors} errors, ${o6.extra.gapsOrRepeats} gaps or repeats`,
      met: (o6.p99 ?? Infinity) <= place + 50 && Number(o6.extra.errors) === 0 && Number(o6.extra.gapsOrRepeats) === 0,
    });
  }
  return checks;
}

function ratioTable(results: StepResult[]): string {
  const steps: Step[] = ['1a', '1b', '2', '3', '4', '5-populate', '5-catch-up'];
  const lines = [
    '| scenario | unit | Ordo | minimal | peer | Ordo ÷ minimal | Ordo ÷ peer |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const step of steps) {
    const o = ordoOf(results, step)?.measurement;
    const min = storeOf(results, step, 'minimal')?.measurement;
    const e = storeOf(results, step, 'emmett')?.measurement;
    if (!o && !min && !e) continue;
    const unit = (o ?? min ?? e)!.unit;
    lines.push(
      `| ${SCENARIO_TITLES[step].split(' ')[0]} | ${unit} | ${fmt(o?.rate)} | ${fmt(min?.rate)} | ${fmt(e?.rate)} | ${ratio(o?.rate, min?.rate)} | ${ratio(o?.rate, e?.rate)} |`,
    );
  }
  return lines.join('\n');
}

function cpuTable(results: StepResult[]): string {
  const steps: Step[] = ['1a', '1b', '2', '3', '4', '5-populate', '5-catch-up', '6'];
  const lines = [
    '| scenario | CPU per | Ordo | minimal | peer | Ordo ÷ minimal | Ordo ÷ peer |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const step of steps) {
    const o = cpuOf(ordoOf(results, step)?.measurement);
    const min = cpuOf(storeOf(results, step, 'minimal')?.measurement);
    const e = cpuOf(storeOf(results, step, 'emmett')?.measurement);
    if (o === undefined && min === undefined && e === undefined) continue;
    const unit = (ordoOf(results, step) ?? storeOf(results, step, 'minimal') ?? storeOf(results, step, 'emmett'))!.measurement!.unit;
    lines.push(
      `| ${SCENARIO_TITLES[step].split(' ')[0]} | ${perWhat(unit)} | ${us(o)} | ${us(min)} | ${us(e)} | ${ratio(o, min)} | ${ratio(o, e)} |`,
    );
  }
  return lines.length > 2 ? lines.join('\n') : '_Server CPU is measured only on a server the bench starts itself._';
}

/** Scenarios 7 and 7e, the same burst on PostgreSQL and on EventStoreDB: one table when both ran, row beside row. */
function burstTables(results: StepResult[]): string[] {
  const ran = (step: Step) => results.some((r) => r.step === step);
  const title = '7 and 7e. A burst of checkouts from 3 service processes sharing one PostgreSQL (7) or one EventStoreDB (7e), until every order has its number (Ordo only)';
  const tables = ran('7') && ran('7e') ? [stepTable(results, '7', { step: '7e', title })] : [stepTable(results, '7'), stepTable(results, '7e')];
  return [...tables, stepTable(results, '7w')].filter(Boolean);
}

export function renderMarkdown(info: RunInfo, results: StepResult[]): string {
  const order: Step[] = ['1a', '1b', '2', '3', '4', '5-populate', '5-catch-up', '6'];
  const targets = checkTargets(results);
  const settings = Object.entries(info.settings)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return [
    `# Ordo benchmark results (${info.mode} run)`,
    '',
    `- date: ${info.date}`,
    `- command: \`${info.command}\` at commit ${info.revision}`,
    `- machine: ${info.machine}`,
    `- Node ${info.node}; ${info.postgres}`,
    `- server settings: ${settings}`,
    ...(info.eventStoreDB ? [`- EventStoreDB (scenario 7e): ${info.eventStoreDB}`] : []),
    `- wall time: ${fmt(info.wallSeconds)} s; 1-minute load average ${info.load}`,
    '',
    '## Ordo against the other stores (throughput)',
    '',
    ratioTable(results),
    '',
    '## CPU per operation (client + server)',
    '',
    'What each store costs in CPU time, this Node process plus the PostgreSQL server, per event (per',
    'command, per order). It changes little when other work shares the machine, unlike throughput.',
    '',
    cpuTable(results),
    '',
    '## Targets',
    '',
    ...(info.mode === 'quick' ? ['_A quick run: sizes are small, so these verdicts are only indicative._', ''] : []),
    '| target | measured | met |',
    '| --- | --- | :---: |',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met === undefined ? '–' : t.met ? 'yes' : '**no**'} |`),
    '',
    '## Scenarios',
    '',
    ...order.map((step) => stepTable(results, step)).filter(Boolean),
    ...burstTables(results),
  ].join('\n');
}
