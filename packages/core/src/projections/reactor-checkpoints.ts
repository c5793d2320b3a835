import { isCheckpointConflictError } from '../errors.js';
import type { CheckpointStore } from './checkpoints.js';

/**
 * The checkpoint store a reactor hands its projection runner. Whatever position the runner asks to
 * store, it stores no further than the reactor's low-water mark (just below the oldest item not yet
 * settled), so a restart reads the log again from there and finds every unfinished item.
 *
 * It has no `transaction`: a reaction's effects are events with ids derived from their causes, so
 * handing an event over twice is absorbed by the store.
 */
export class LowWaterMarkCheckpoints implements CheckpointStore {
  private stored: bigint | null = null;
  private writing: Promise<void> = Promise.resolve();

  /**
   * @param inner where the position is kept.
   * @param lowWaterMark the furthest position that may be stored, given the runner's position.
   */
  constructor(
    private readonly inner: CheckpointStore<unknown>,
    private readonly lowWaterMark: (runnerPosition: bigint) => bigint,
  ) {}

  /** The position as stored (what a restart resumes from). */
  get position(): bigint | null {
    return this.stored;
  }

  async read(name: string): Promise<bigint | null> {
    this.stored = await this.inner.read(name);
    return this.stored;
  }

  /**
   * The runner's `expected` is ignored: this store knows what it wrote, which is not what the runner
   * asked for. A failed write is dropped: the checkpoint stays lower (more to read on a restart,
   * nothing lost) and the next advance writes it, so an outage never stops the reactor's runner.
   */
  store(name: string, position: bigint): Promise<void> {
    return this.advance(name, position).catch(() => undefined);
  }

  /**
   * Stores `min(runnerPosition, low-water mark)` when that moves the checkpoint forward. Writes are
   * serialised. When another copy of the reactor moved the checkpoint, this copy follows it: the
   * other copy saw the same items (copies share nothing else, and their effects are fenced).
   */
  advance(name: string, runnerPosition: bigint): Promise<void> {
    const next = this.writing.then(async () => {
      const target = this.lowWaterMark(runnerPosition);
      if (this.stored !== null && target <= this.stored) return;
      try {
        await this.inner.store(name, target, this.stored);
        this.stored = target;
      } catch (error) {
        if (!isCheckpointConflictError(error)) throw error;
        this.stored = error.actual;
      }
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
