/**
 * Event envelopes. A {@link NewEvent} is what a decider's caller appends; a {@link RecordedEvent}
 * is what a store gives back, with its place in the stream and in the global log.
 */

/** Who did what, why, and as a consequence of what. Every event carries it: it is the audit trail. */
export interface EventMetadata {
  /** The command that produced this event; a retried command has the same id. */
  commandId?: string;
  /** Groups everything caused by one outside request (an HTTP call, a webhook delivery). */
  correlationId?: string;
  /** The id of the event or command that directly caused this one. */
  causationId?: string;
  /** Who asked for it: a user id, `system`, a bot's name. */
  actor?: string;
  /** When the command was issued, ISO 8601. */
  occurredAt?: string;
  /** Free-form extras; must be JSON. */
  [extra: string]: unknown;
}

/** An event to append. `id` is a UUID; appending the same id again at the same place is absorbed. */
export interface NewEvent<Type extends string = string, Data = unknown> {
  id: string;
  type: Type;
  data: Data;
  metadata?: EventMetadata;
}

/** An event as stored. */
export interface RecordedEvent<Type extends string = string, Data = unknown> {
  id: string;
  type: Type;
  data: Data;
  metadata: EventMetadata;
  streamName: string;
  /** 0-based position of the event in its stream. */
  streamVersion: bigint;
  /** Position in the store's single total order of all events. Increases, but need not be dense. */
  globalPosition: bigint;
  recordedAt: Date;
}

/** A decider's output before it gets an id: just the type and data. */
export interface EventOf<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
}
