/** Latency samples and percentiles. */

export class Latencies {
  private samples: number[] = [];

  /** Runs `work` and records how long it took, in milliseconds. */
  async time<T>(work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.samples.push(performance.now() - start);
    }
  }

  add(ms: number) {
    this.samples.push(ms);
  }

  get count() {
    return this.samples.length;
  }

  /** Nearest-rank percentile, `p` in 0..100. */
  percentile(p: number): number {
    if (this.samples.length === 0) return Number.NaN;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
    return sorted[rank - 1]!;
  }

  summary(): { p50: number; p99: number; max: number } {
    return { p50: this.percentile(50), p99: this.percentile(99), max: this.percentile(100) };
  }
}

/** Runs `count` tasks on `concurrency` workers; `task(i, worker)` gets a global index. */
export async function runConcurrently(
  count: number,
  concurrency: number,
  task: (index: number, worker: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (;;) {
        const index = next++;
        if (index >= count) return;
        await task(index, worker);
      }
    }),
  );
}

export function seconds(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}
