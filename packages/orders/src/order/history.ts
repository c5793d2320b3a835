import type { RecordedEvent } from '@ordo/core';
import type { OrderEvent } from './events.js';

/** One line of an order's audit trail. */
export interface HistoryEntry {
  version: bigint;
  position: bigint;
  type: OrderEvent['type'];
  data: OrderEvent['data'];
  actor?: string;
  reason?: string;
  at: string;
  recordedAt: Date;
  commandId?: string;
  correlationId?: string;
  causationId?: string;
}

/** Who, when and why of one recorded order event: from its data first, then from its metadata. */
export function toHistoryEntry(event: RecordedEvent<OrderEvent['type'], OrderEvent['data']>): HistoryEntry {
  const data = event.data as Partial<{ by: string; placedBy: string; reason: string; at: string; placedAt: string }>;
  const meta = event.metadata;
  const entry: HistoryEntry = {
    version: event.streamVersion,
    position: event.globalPosition,
    type: event.type,
    data: event.data,
    at: data.at ?? data.placedAt ?? meta.occurredAt ?? event.recordedAt.toISOString(),
    recordedAt: event.recordedAt,
  };
  const actor = data.by ?? data.placedBy ?? meta.actor;
  if (actor !== undefined) entry.actor = actor;
  if (data.reason !== undefined) entry.reason = data.reason;
  if (meta.commandId !== undefined) entry.commandId = meta.commandId;
  if (meta.correlationId !== undefined) entry.correlationId = meta.correlationId;
  if (meta.causationId !== undefined) entry.causationId = meta.causationId;
  return entry;
}
