import type { EventMetadata } from '../events.js';

/** Who asked, and why: copied into every event's metadata. */
export interface CommandContext {
  /**
   * Identifies the request. Send the same id when retrying after a lost response: the retry is
   * recognised and returns the first result instead of acting twice.
   */
  commandId: string;
  actor?: string;
  correlationId?: string;
  causationId?: string;
  /** When the command was issued. */
  occurredAt?: Date;
  /** Extras to record on every event (must be JSON). */
  metadata?: Record<string, unknown>;
}

/**
 * The metadata every event of the command carries. The command id is what recognises a retry, so
 * a context without one is refused before anything is read.
 */
export function metadataFor(context: CommandContext): EventMetadata {
  if (!context || typeof context.commandId !== 'string' || context.commandId.length === 0) {
    throw new TypeError('handle() needs a context with a non-empty commandId');
  }
  return {
    ...context.metadata,
    commandId: context.commandId,
    ...(context.actor !== undefined && { actor: context.actor }),
    ...(context.correlationId !== undefined && { correlationId: context.correlationId }),
    ...(context.causationId !== undefined && { causationId: context.causationId }),
    occurredAt: (context.occurredAt ?? new Date()).toISOString(),
  };
}
