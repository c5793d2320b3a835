import type { RecordedEvent } from '../../events.js';

/**
 * What every store must show after any run: event ids unique, each stream's versions 0, 1, 2, …
 * with no gap or repeat, global positions strictly increasing.
 * @returns one message per broken promise.
 */
export function logIntegrityViolations(log: readonly RecordedEvent[]): string[] {
  const violations: string[] = [];
  const ids = new Set<string>();
  const nextVersion = new Map<string, bigint>();
  let lastPosition: bigint | undefined;
  for (const event of log) {
    if (ids.has(event.id)) violations.push(`event id ${event.id} is stored twice`);
    ids.add(event.id);
    const expected = nextVersion.get(event.streamName) ?? 0n;
    if (event.streamVersion !== expected) {
      violations.push(`${event.streamName}: version ${event.streamVersion} follows ${expected - 1n} (versions must be contiguous)`);
    }
    nextVersion.set(event.streamName, event.streamVersion + 1n);
    if (lastPosition !== undefined && event.globalPosition <= lastPosition) {
      violations.push(`global position ${event.globalPosition} does not increase after ${lastPosition}`);
    }
    lastPosition = event.globalPosition;
  }
  return violations;
}

/** One command's events in a stream: a contiguous run with one command id. */
export interface StoredRun {
  stream: string;
  commandId: string;
  events: RecordedEvent[];
}

/**
 * Splits the log into runs of one command each, per stream in stream order. A command id found in
 * two runs means a retried command was applied twice.
 */
export function commandRuns(log: readonly RecordedEvent[]): { byStream: Map<string, StoredRun[]>; violations: string[] } {
  const byStream = new Map<string, StoredRun[]>();
  const seen = new Map<string, StoredRun>();
  const violations: string[] = [];
  for (const event of log) {
    const commandId = typeof event.metadata.commandId === 'string' ? event.metadata.commandId : `(no command id: ${event.id})`;
    const runs = byStream.get(event.streamName) ?? [];
    byStream.set(event.streamName, runs);
    const last = runs[runs.length - 1];
    if (last && last.commandId === commandId) {
      last.events.push(event);
      continue;
    }
    const earlier = seen.get(commandId);
    if (earlier) {
      violations.push(
        `command ${commandId} was applied twice: at ${earlier.stream} v${earlier.events[0]!.streamVersion} and at ${event.streamName} v${event.streamVersion} (a retry was not absorbed)`,
      );
    }
    const run: StoredRun = { stream: event.streamName, commandId, events: [event] };
    runs.push(run);
    seen.set(commandId, run);
  }
  return { byStream, violations };
}
