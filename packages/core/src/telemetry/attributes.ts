import type { EventStore } from '../store/event-store.js';

/**
 * Attribute and instrument names, in one place so that the README's tables and the code agree.
 * OpenTelemetry semantic conventions where they exist (`db.*`, `messaging.*`), `ordo.*` otherwise.
 */
export const ATTR = {
  dbSystem: 'db.system',
  dbSystemName: 'db.system.name',
  dbOperation: 'db.operation.name',
  dbCollection: 'db.collection.name',
  messagingSystem: 'messaging.system',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingConsumerGroup: 'messaging.consumer.group.name',
  messagingBatchCount: 'messaging.batch.message_count',
  stream: 'ordo.stream',
  category: 'ordo.stream.category',
  eventCount: 'ordo.event.count',
  expectedVersion: 'ordo.expected_version',
  commandType: 'ordo.command.type',
  attempts: 'ordo.command.attempts',
  conflicts: 'ordo.command.conflicts',
  outcome: 'ordo.outcome',
  projection: 'ordo.projection',
  fromPosition: 'ordo.position.from',
  toPosition: 'ordo.position.to',
  state: 'ordo.projection.state',
  reactor: 'ordo.reactor',
  partition: 'ordo.reactor.partition',
  reactorState: 'ordo.reactor.state',
} as const;

/** A stream's category: the part of its name before the first `-` (`order-42` → `order`). */
export function streamCategory(stream: string): string {
  const dash = stream.indexOf('-');
  return dash < 0 ? stream : stream.slice(0, dash);
}

/** `db.system` for a store: what `dbSystem` says, else guessed from its class name. */
export function dbSystemOf(store: EventStore, given?: string): string {
  if (given) return given;
  const name = (store as { constructor?: { name?: string } }).constructor?.name ?? '';
  if (/postgres/i.test(name)) return 'postgresql';
  if (/memory/i.test(name)) return 'memory';
  if (/eventstore|kurrent/i.test(name)) return 'eventstoredb';
  return 'other';
}

/** A position as an attribute value: a number while exact, else its decimal string. */
export function positionValue(position: bigint): number | string {
  return position <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(position) : position.toString();
}
