import type { RecordedEvent } from '../events.js';
import { isCheckpointConflictError } from '../errors.js';
import { START, type EventStore, type LogFilter } from '../store/event-store.js';
import type { CheckpointStore } from './checkpoints.js';
import type { Projection } from './projection.js';

/**
 * Replaying a projection from the start while the service runs. The rebuild reads the log under a
 * checkpoint of its own (`<name>#rebuild`) into shadow output, so the live runner keeps serving the
 * old output meanwhile and an interrupted rebuild resumes where it stopped. Once it has caught up
 * with the head, it swaps the shadow output in under the live checkpoint's compare-and-set: the
 * live runner's next checkpoint write fails, and it re-reads the checkpoint and carries on from the
 * rebuild's position over the new output. See DESIGN.md, "Rebuilding a projection".
 */

/** What {@link rebuildProjection} rebuilds and how the output is swapped in. */
export interface RebuildOptions<Tx = unknown> {
  store: EventStore;
  /** Where both checkpoints live (the live one and `<name>#rebuild`); needs `remove`. */
  checkpoints: CheckpointStore<Tx>;
  /** The projection, writing its shadow output. Its `name` is the live checkpoint's key. */
  projection: Projection<Tx>;
  /** Makes empty shadow output; called when a rebuild starts afresh (not when it resumes). */
  prepare?(): Promise<void>;
  /**
   * Puts the shadow output in place of the live output, inside the transaction that moves the
   * live checkpoint to the rebuild's position (needs a transactional checkpoint store). Leave it
   * out for a projection whose effects are idempotent appends: the rebuild is then a replay from
   * the start that re-derives every effect (the store absorbs the repeats) and swaps nothing.
   */
  swap?(tx: Tx): Promise<void>;
  /** Events handled per transaction (and per checkpoint). Default 500. */
  batchSize?: number;
}

/** How far a rebuild is: positions of the global log, which has no gaps. */
export interface RebuildProgress {
  /** Everything up to here is in the shadow output. */
  position: bigint;
  /** The head of the log when last asked. */
  head: bigint;
  /** Events of the projection handled by this run (a resumed run counts from where it resumed). */
  handled: number;
  /** Positions per second in this run. */
  rate: number;
  /** Seconds left at this rate (`undefined` until there is a rate). */
  etaSeconds: number | undefined;
}

/** Options of one run of {@link rebuildProjection}. */
export interface RebuildRunOptions {
  /** Called after every batch. */
  onProgress?(progress: RebuildProgress): void;
  /** Stops after the batch in hand, keeping the shadow checkpoint: run again to resume. Rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Reads and counts what a rebuild would handle; writes nothing. */
  dryRun?: boolean;
}

/** What a run of {@link rebuildProjection} did. */
export interface RebuildResult {
  /** The live projection's name, and the shadow checkpoint's. */
  name: string;
  shadow: string;
  /** Where this run started: `START`, or the shadow checkpoint it resumed from. */
  from: bigint;
  /** Where the rebuild got to (a dry run: the head). */
  position: bigint;
  /** Events of the projection handled (a dry run: that would be handled). */
  handled: number;
  /** Whether the shadow output was swapped in (false in replay mode and dry runs). */
  swapped: boolean;
  dryRun: boolean;
}

/** The key of a rebuild's own checkpoint. */
export function rebuildCheckpointName(name: string): string {
  return `${name}#rebuild`;
}

/**
 * Rebuilds `projection` from the start of the log, safely beside a live runner, resumably, with
 * progress. On abort the run stops after its batch in hand and rejects with the signal's reason;
 * running it again resumes from the shadow checkpoint.
 * @throws TypeError when the checkpoint store cannot `remove`, or `swap` is given without `transaction`.
 * @throws CheckpointConflictError when another rebuild of the same projection moved the shadow checkpoint.
 */
export async function rebuildProjection<Tx>(options: RebuildOptions<Tx>, run: RebuildRunOptions = {}): Promise<RebuildResult> {
  const { store, checkpoints, projection } = options;
  const name = projection.name;
  const shadow = rebuildCheckpointName(name);
  if (!checkpoints.remove) throw new TypeError(`Rebuilding "${name}" needs a checkpoint store that can remove a checkpoint`);
  if (options.swap && !checkpoints.transaction) throw new TypeError(`Swapping "${name}" in needs a transactional checkpoint store`);
  run.signal?.throwIfAborted();
  const stored = await checkpoints.read(shadow);
  const from = stored ?? START;
  const filter = logFilterOf(projection);
  if (run.dryRun) return dryRun(store, filter, { name, shadow, from });
  if (stored === null) await options.prepare?.();
  const replay = new Replay(options, shadow, stored, run);
  for (;;) {
    run.signal?.throwIfAborted();
    const head = await store.headPosition();
    if (replay.position < head) {
      await replay.step(head, filter);
      continue;
    }
    if (await finish(options, shadow, replay.position)) {
      return { name, shadow, from, position: replay.position, handled: replay.handled, swapped: !!options.swap, dryRun: false };
    }
  }
}

/** The log filter a projection declares. */
function logFilterOf(projection: Projection<never>): LogFilter {
  return {
    ...(projection.eventTypes && { eventTypes: projection.eventTypes }),
    ...(projection.streamPrefixes && { streamPrefixes: projection.streamPrefixes }),
  };
}

/** Counts the events a rebuild would handle from `from` to the head. */
async function dryRun(store: EventStore, filter: LogFilter, at: { name: string; shadow: string; from: bigint }): Promise<RebuildResult> {
  const head = await store.headPosition();
  let handled = 0;
  for await (const event of store.readAll({ after: at.from, filter })) {
    if (event.globalPosition > head) break;
    handled++;
  }
  return { ...at, position: head, handled, swapped: false, dryRun: true };
}

/**
 * Ends the rebuild at `position` (the head as last asked): swaps the output in under the live
 * checkpoint's compare-and-set and removes the shadow checkpoint in the same transaction (or, in
 * replay mode, just removes it).
 * @returns false when the live checkpoint moved meanwhile: catch up further and try again.
 */
async function finish<Tx>(options: RebuildOptions<Tx>, shadow: string, position: bigint): Promise<boolean> {
  const { checkpoints, projection, swap } = options;
  if (!swap) {
    await checkpoints.remove!(shadow);
    return true;
  }
  const live = await checkpoints.read(projection.name);
  try {
    await checkpoints.transaction!(projection.name, position, live, async (tx) => {
      await swap(tx);
      await checkpoints.remove!(shadow, tx);
    });
    return true;
  } catch (error) {
    if (isCheckpointConflictError(error) && error.projection === projection.name) return false;
    throw error;
  }
}

/** The rebuild's reading and writing: batches of the log into the shadow output, under the shadow checkpoint. */
class Replay<Tx> {
  position: bigint;
  handled = 0;
  private stored: bigint | null;
  private readonly from: bigint;
  private readonly started = Date.now();
  private readonly batchSize: number;

  constructor(
    private readonly options: RebuildOptions<Tx>,
    private readonly shadow: string,
    stored: bigint | null,
    private readonly run: RebuildRunOptions,
  ) {
    this.from = stored ?? START;
    this.position = this.from;
    this.stored = stored;
    this.batchSize = options.batchSize ?? 500;
  }

  /** Handles the next batch up to `head` and stores the shadow checkpoint with it. */
  async step(head: bigint, filter: LogFilter): Promise<void> {
    const events: RecordedEvent[] = [];
    for await (const event of this.options.store.readAll({ after: this.position, maxCount: this.batchSize, filter })) {
      if (event.globalPosition > head) break;
      events.push(event);
    }
    // A short batch read everything up to the head: positions the filter skipped count as done.
    const last = events.at(-1)?.globalPosition ?? this.position;
    const to = events.length < this.batchSize ? head : last;
    await this.commit(events, to);
    this.position = to;
    this.stored = to;
    this.handled += events.length;
    this.report(head);
  }

  private async commit(events: readonly RecordedEvent[], to: bigint): Promise<void> {
    const { checkpoints, projection } = this.options;
    const transactional = typeof checkpoints.transaction === 'function' && projection.transactional !== false;
    if (transactional && events.length > 0) {
      await checkpoints.transaction!(this.shadow, to, this.stored, (tx) => apply(projection, events, tx));
      return;
    }
    if (events.length > 0) await apply(projection, events, undefined as Tx);
    await checkpoints.store(this.shadow, to, this.stored);
  }

  private report(head: bigint): void {
    if (!this.run.onProgress) return;
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? Number(this.position - this.from) / seconds : 0;
    const left = Number(head - this.position);
    this.run.onProgress({
      position: this.position,
      head,
      handled: this.handled,
      rate,
      etaSeconds: rate > 0 ? left / rate : undefined,
    });
  }
}

/** Hands `events` to the projection: as one batch when it takes batches, else one at a time. */
async function apply<Tx>(projection: Projection<Tx>, events: readonly RecordedEvent[], tx: Tx): Promise<void> {
  if (projection.handleBatch) return projection.handleBatch(events, { tx });
  for (const event of events) await projection.handle!(event, { tx });
}
