import type { RecordedEvent } from '@ordo/core';
import { withEventStore, type EventStoreOptions } from '../event-store-connection.js';
import { renderTable, toJson } from '../table.js';

/** A stream that `ordo stream` was asked for and that has no events. */
export class NoSuchStreamError extends Error {
  override name = 'NoSuchStreamError';
}

/** One line of an audit trail: what happened, when, who asked, and why. */
export interface AuditEntry {
  version: bigint;
  position: bigint;
  at: string;
  type: string;
  who: string;
  why: string;
  data: unknown;
}

/** Who, when and why, from an event's metadata (and a `reason` in its data, where the event has one). */
export function auditEntry(event: RecordedEvent): AuditEntry {
  const m = event.metadata ?? {};
  const data = (event.data ?? {}) as Record<string, unknown>;
  const reasons = [
    typeof data.reason === 'string' ? data.reason : undefined,
    m.commandId && `command ${m.commandId}`,
    m.causationId && m.causationId !== m.commandId ? `caused by ${m.causationId}` : undefined,
  ].filter(Boolean);
  return {
    version: event.streamVersion,
    position: event.globalPosition,
    at: (m.occurredAt as string | undefined) ?? event.recordedAt.toISOString(),
    type: event.type,
    who: typeof m.actor === 'string' ? m.actor : '-',
    why: reasons.join('; ') || '-',
    data: event.data,
  };
}

/** `ordo stream <name>`: a stream's history as an audit trail. */
export async function stream(name: string, options: EventStoreOptions & { json?: boolean }): Promise<void> {
  await withEventStore(options, async (store) => {
    const read = await store.readStream(name);
    if (read.version === null) throw new NoSuchStreamError(`Stream "${name}" does not exist`);
    const entries = read.events.map(auditEntry);
    if (options.json) {
      process.stdout.write(`${toJson({ stream: name, version: read.version, events: entries })}\n`);
      return;
    }
    const rows = entries.map((e) => [String(e.version), e.at, e.type, e.who, e.why, compact(e.data)]);
    process.stdout.write(`Stream ${name}, version ${read.version}\n\n${renderTable(['#', 'WHEN', 'WHAT', 'WHO', 'WHY', 'DATA'], rows)}\n`);
  });
}

/** Data as one short line. */
export function compact(data: unknown, max = 60): string {
  const text = toJson(data).replace(/\s*\n\s*/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
