import cliProgress from 'cli-progress';
import type { RebuildProgress } from '@ordo/core';

/** Shows a rebuild's progress: a bar on a terminal, a line every few seconds otherwise (logs, CI). */
export interface ProgressView {
  update(progress: RebuildProgress): void;
  stop(): void;
}

/** A bar when stderr is a terminal, else periodic lines; both on stderr, so stdout stays the result. */
export function progressView(label: string, intervalMs = 2000): ProgressView {
  return process.stderr.isTTY ? barView(label) : lineView(label, intervalMs);
}

function barView(label: string): ProgressView {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} events | {rate}/s | ETA {eta}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = { rate: Math.round(p.rate), eta: formatSeconds(p.etaSeconds) };
      if (!started) bar.start(Number(p.head), Number(p.position), payload);
      started = true;
      bar.setTotal(Number(p.head));
      bar.update(Number(p.position), payload);
    },
    stop: () => started && bar.stop(),
  };
}

function lineView(label: string, intervalMs: number): ProgressView {
  let last = 0;
  let pending: RebuildProgress | undefined;
  const print = (p: RebuildProgress) => {
    const percent = p.head === 0n ? 100 : Number((p.position * 100n) / p.head);
    process.stderr.write(
      `${label}: ${p.position}/${p.head} events (${percent}%), ${Math.round(p.rate)}/s, ETA ${formatSeconds(p.etaSeconds)}\n`,
    );
    last = Date.now();
    pending = undefined;
  };
  return {
    update(p) {
      pending = p;
      if (Date.now() - last >= intervalMs) print(p);
    },
    stop: () => pending && print(pending),
  };
}

/** `42 s`, `3 min 5 s`, or `-` when unknown. */
export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.ceil(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
