/**
 * Several interleaved rounds of one run: the median of each scenario and store, its spread, and
 * the load the machine was under in each round.
 */
import type { PhysicalLimit } from './pgbench.js';
import { SCENARIO_TITLES, type StepResult } from './report.js';
import type { Step } from './worker.js';

/** One round: its results, the 1-minute load average around it, and the server's physical limit. */
export interface Round {
  round: number;
  loadBefore: number;
  loadAfter: number;
  /** The load exceeded the cores at either end: figures of this round are under contention. */
  overloaded: boolean;
  physical: PhysicalLimit[];
  results: StepResult[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per step and store, the result of the round with the median throughput (so its other figures belong together). */
export function medianResults(rounds: Round[]): StepResult[] {
  const groups = new Map<string, StepResult[]>();
  for (const r of rounds.flatMap((round) => round.results)) {
    const key = `${r.step}/${r.store}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const measured = group.filter((r) => r.measurement).sort((a, b) => a.measurement!.rate - b.measurement!.rate);
    return measured.length === 0 ? group[0]! : measured[Math.floor((measured.length - 1) / 2)]!;
  });
}

const f = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 2 : 0 });

/** The rounds as markdown: median, spread and CPU per step and store, the physical limit, the load. */
export function renderRounds(rounds: Round[], cores: number): string {
  const lines = ['## Rounds: median and spread', ''];
  lines.push(`${rounds.length} round(s); in each, every scenario ran on every store, the store order rotated per round.`, '');
  lines.push('| round | load before | load after | taken under load > cores | pgbench 1 client | pgbench 16 clients |', '| ---: | ---: | ---: | :---: | ---: | ---: |');
  for (const r of rounds) {
    const pg = (c: number) => r.physical.find((p) => p.clients === c);
    lines.push(
      `| ${r.round} | ${r.loadBefore.toFixed(2)} | ${r.loadAfter.toFixed(2)} | ${r.overloaded ? `**yes** (${cores} cores)` : 'no'} | ${pg(1) ? `${f(pg(1)!.commitsPerSecond)}/s` : '–'} | ${pg(16) ? `${f(pg(16)!.commitsPerSecond)}/s` : '–'} |`,
    );
  }
  lines.push('', '| scenario | store | median | min – max | client CPU µs (median) | server CPU µs (median) | rounds |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  const steps = [...new Set(rounds.flatMap((r) => r.results.map((x) => x.step)))] as Step[];
  for (const step of steps) {
    for (const store of ['minimal', 'ordo', 'emmett'] as const) {
      const ms = rounds.flatMap((r) => r.results).filter((x) => x.step === step && x.store === store && x.measurement).map((x) => x.measurement!);
      if (ms.length === 0) continue;
      const rates = ms.map((m) => m.rate);
      const cpu = (key: string) => {
        const v = ms.map((m) => m.extra[key]).filter((x): x is number => typeof x === 'number');
        return v.length ? f(median(v)) : '–';
      };
      lines.push(
        `| ${SCENARIO_TITLES[step].split(' ')[0]} | ${store} | ${f(median(rates))} ${ms[0]!.unit} | ${f(Math.min(...rates))} – ${f(Math.max(...rates))} | ${cpu('clientCpuUs')} | ${cpu('serverCpuUs')} | ${ms.length} |`,
      );
    }
  }
  return lines.join('\n');
}
