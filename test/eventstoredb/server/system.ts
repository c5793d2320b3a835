/**
 * The records a real node writes to `$all` by itself. A fresh KurrentDB node's `$all` does not
 * start with a client's first event: it starts with system records (event types starting with `$`,
 * in streams starting with `$`: settings, scavenge bookkeeping, statistics), and it keeps growing
 * without any client, as the node writes its statistics periodically. Positions therefore move
 * past the last user event, and readers that wait for "the head" must cope with that.
 *
 * The test server reproduces this: {@link seedSystemRecords} at start, and a
 * {@link SystemActivity} that writes statistics records on a short interval until stopped.
 */
import type { Database } from './database.js';

/** The stream the node's statistics go to (one per node: the name carries its address). */
export const STATISTICS_STREAM = '$statistics-127.0.0.1:2113';

/** How the test server writes system records of its own. */
export interface SystemRecordOptions {
  /** Milliseconds between two background statistics records. Default 25: often, so tests meet them. */
  intervalMs?: number;
}

/** Writes the records a node holds before any client wrote: settings, scavenges, first statistics. */
export function seedSystemRecords(db: Database): void {
  db.appendSystem('$settings', '$settings', { $userStreamAcl: { $r: '$all' }, $systemStreamAcl: { $r: '$admins' } });
  db.appendSystem('$scavenges', '$scavengeIndexInitialized', {});
  db.appendSystem('$$$statistics-127.0.0.1:2113', '$metadata', { $maxAge: 86_400 });
  for (let i = 0; i < 3; i++) db.appendSystem(STATISTICS_STREAM, '$statsCollected', statistics(i));
}

/** Background statistics records, written until {@link SystemActivity.stop}. */
export class SystemActivity {
  private timer: ReturnType<typeof setInterval> | undefined;
  private written = 0;

  constructor(
    private readonly db: Database,
    options: SystemRecordOptions = {},
  ) {
    this.timer = setInterval(() => this.tick(), options.intervalMs ?? 25);
    // A forgotten server must not keep the test process alive.
    this.timer.unref();
  }

  /** How many background records were written so far. */
  get count(): number {
    return this.written;
  }

  /** Stops writing; safe to call more than once. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.db.appendSystem(STATISTICS_STREAM, '$statsCollected', statistics(++this.written));
  }
}

function statistics(sequence: number): Record<string, unknown> {
  return { 'proc-id': process.pid, 'proc-uptime': sequence, 'es-queue-main-length': 0, 'sys-freeMem': 1 << 30 };
}
