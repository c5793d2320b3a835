/**
 * The reactor's work in hand: one item per key, each ready (queued for a slot of its partition),
 * running, or waiting for its due time. Only running items hold a slot. Knows no I/O but timers.
 */

/** One partition's work in hand. */
export interface PartitionCounts {
  /** Steps running now. */
  inFlight: number;
  /** Keys waiting for a free slot. */
  ready: number;
  /** Keys waiting for their due time. */
  due: number;
}

/** Where an item is. */
export type ItemPhase = 'ready' | 'running' | 'waiting';

/** One key the reactor works on. */
export interface ReactorItem {
  key: string;
  partition: string;
  /** Global position of the event that made the item unsettled: the checkpoint stays below it. */
  position: bigint;
  phase: ItemPhase;
  /** When waiting: the due time (ms since the epoch) and its timer. */
  dueAt?: number;
  timer?: ReturnType<typeof setTimeout>;
  /** Something changed while it ran: run it again at once. */
  rerun: boolean;
  /** Steps in a row that threw. */
  failures: number;
}

/** Longest delay a timer accepts; a later due time is re-checked when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Items by key, ready queues and running counts by partition. `startItem` is called for each item
 * that gets a slot; the owner calls `finished` when its step is over.
 */
export class ReactorItems {
  private readonly items = new Map<string, ReactorItem>();
  private readonly ready = new Map<string, ReactorItem[]>();
  private readonly running = new Map<string, number>();

  constructor(
    private readonly slotsOf: (partition: string) => number,
    private readonly startItem: (item: ReactorItem) => void,
  ) {}

  get size(): number {
    return this.items.size;
  }

  get(key: string): ReactorItem | undefined {
    return this.items.get(key);
  }

  /** Lowest position of any item, or `undefined` when there is none. */
  lowestPosition(): bigint | undefined {
    let lowest: bigint | undefined;
    for (const item of this.items.values()) if (lowest === undefined || item.position < lowest) lowest = item.position;
    return lowest;
  }

  /** An event for `key`: a new item becomes ready; a waiting one is due at once; a running one runs again. */
  touch(key: string, partition: string, position: bigint): void {
    const item = this.items.get(key);
    if (!item) {
      const created: ReactorItem = { key, partition, position, phase: 'ready', rerun: false, failures: 0 };
      this.items.set(key, created);
      this.enqueue(created);
      return;
    }
    if (item.phase === 'running') item.rerun = true;
    else if (item.phase === 'waiting') this.makeReady(item);
  }

  /** Makes a waiting item due at once (a running one runs again); unknown keys are ignored. */
  wake(key: string): void {
    const item = this.items.get(key);
    if (item?.phase === 'running') item.rerun = true;
    else if (item?.phase === 'waiting') this.makeReady(item);
  }

  /** The step of a running item is over: it leaves, runs again, or waits until `dueAt`. */
  finished(item: ReactorItem, next: { settled: true } | { dueAt: number }, now: number): void {
    this.running.set(item.partition, (this.running.get(item.partition) ?? 1) - 1);
    if (item.rerun) {
      item.rerun = false;
      this.enqueue(item);
    } else if ('settled' in next) {
      this.items.delete(item.key);
    } else {
      this.wait(item, next.dueAt, now);
    }
    this.pump(item.partition);
  }

  /** Counts for the status: running by partition, ready, and waiting for a due time, in all and per partition. */
  counts(): { inFlight: Record<string, number>; ready: number; due: number; partitions: Record<string, PartitionCounts> } {
    const inFlight: Record<string, number> = {};
    const partitions: Record<string, PartitionCounts> = {};
    const of = (partition: string) => (partitions[partition] ??= { inFlight: 0, ready: 0, due: 0 });
    // Partitions that have run keep a running count (possibly 0), so an idle one still reports zeros.
    for (const [partition, n] of this.running) {
      of(partition).inFlight = n;
      if (n > 0) inFlight[partition] = n;
    }
    let ready = 0;
    let due = 0;
    for (const item of this.items.values()) {
      if (item.phase === 'ready') (ready++, of(item.partition).ready++);
      else if (item.phase === 'waiting') (due++, of(item.partition).due++);
    }
    return { inFlight, ready, due, partitions };
  }

  /** Forgets everything and clears every timer (on stop: a restart derives it all again from the log). */
  clear(): void {
    for (const item of this.items.values()) clearTimeout(item.timer);
    this.items.clear();
    this.ready.clear();
    this.running.clear();
  }

  private wait(item: ReactorItem, dueAt: number, now: number) {
    if (dueAt <= now) return this.enqueue(item);
    item.phase = 'waiting';
    item.dueAt = dueAt;
    item.timer = setTimeout(() => this.makeReady(item), Math.min(dueAt - now, MAX_TIMER_MS));
    item.timer.unref?.();
  }

  private makeReady(item: ReactorItem) {
    clearTimeout(item.timer);
    delete item.timer;
    delete item.dueAt;
    this.enqueue(item);
  }

  private enqueue(item: ReactorItem) {
    item.phase = 'ready';
    let queue = this.ready.get(item.partition);
    if (!queue) this.ready.set(item.partition, (queue = []));
    queue.push(item);
    this.pump(item.partition);
  }

  /** Starts ready items of `partition` while it has free slots. */
  private pump(partition: string) {
    const queue = this.ready.get(partition);
    while (queue && queue.length > 0 && (this.running.get(partition) ?? 0) < this.slotsOf(partition)) {
      const item = queue.shift()!;
      this.running.set(partition, (this.running.get(partition) ?? 0) + 1);
      item.phase = 'running';
      this.startItem(item);
    }
  }
}
