/** Calls whose answers a test can delay. */
export type FaultedMethod = 'append' | 'read' | 'delete' | 'tombstone';

/** Hold a call, so that the client's deadline expires. */
export interface DelayFault {
  method: FaultedMethod;
  ms: number;
  /**
   * `before`: hold the request, then do nothing if the client gave up meanwhile (an append whose
   * deadline passed is not written). `after`: do the work, then hold the answer (an append is
   * written, but the client hears about it too late). Default `before`.
   */
  phase?: 'before' | 'after';
  /** How many calls it applies to. Default 1. */
  times?: number;
}

/**
 * Faults a test arms on the server; each applies to the next matching calls, then disarms.
 * Exposed as `server.faults`.
 */
export class Faults {
  private dropsAfterCommit = 0;
  private readonly subscriptionDrops: number[] = [];
  private delays: (DelayFault & { remaining: number })[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  /** How often each fault has fired, so that a test can check its fault really happened. */
  readonly fired = { dropsAfterCommit: 0, subscriptionDrops: 0, delays: 0 };

  /** The next `times` appends are written, then every connection is cut before the answer is sent. */
  dropConnectionAfterCommit(times = 1): void {
    this.dropsAfterCommit += times;
  }

  /** The next subscription to `$all` cuts every connection after it has sent `events` events. */
  dropSubscriptionAfter(events: number): void {
    this.subscriptionDrops.push(events);
  }

  /** Holds the next matching calls (see {@link DelayFault}). */
  delay(fault: DelayFault): void {
    this.delays.push({ ...fault, remaining: fault.times ?? 1 });
  }

  /** Disarms every fault. */
  reset(): void {
    this.dropsAfterCommit = 0;
    this.subscriptionDrops.length = 0;
    this.delays = [];
  }

  /** Resolves once every held call has finished its work. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** @internal */
  takeDropAfterCommit(): boolean {
    if (this.dropsAfterCommit === 0) return false;
    this.dropsAfterCommit--;
    this.fired.dropsAfterCommit++;
    return true;
  }

  /** @internal */
  takeSubscriptionDrop(): number | undefined {
    return this.subscriptionDrops.shift();
  }

  /** @internal */
  subscriptionDropped(): void {
    this.fired.subscriptionDrops++;
  }

  /**
   * @internal Runs `work` for a call of `method`, held as an armed delay says. Resolves to
   * `undefined` when the call was abandoned before the work was done.
   */
  async around<T>(method: FaultedMethod, work: () => T, cancelled: () => boolean): Promise<T | undefined> {
    const fault = this.delays.find((d) => d.method === method && d.remaining > 0);
    if (!fault) return work();
    fault.remaining--;
    this.fired.delays++;
    this.delays = this.delays.filter((d) => d.remaining > 0);
    const run = (async () => {
      if ((fault.phase ?? 'before') === 'before') {
        await sleep(fault.ms);
        if (cancelled()) return undefined;
        return work();
      }
      const result = work();
      await sleep(fault.ms);
      return result;
    })();
    this.inFlight.add(run);
    try {
      return await run;
    } finally {
      this.inFlight.delete(run);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
