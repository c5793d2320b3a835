import type { EventMetadata } from '../events.js';
import { isRealSpanContext, type SpanContext } from './otel.js';

/**
 * Trace context in event metadata, as a W3C `traceparent` string (`00-<trace id>-<span id>-<flags>`),
 * so that whoever handles an event later can link its span to the one that wrote it.
 */

/** The metadata key that carries the writer's trace context. */
export const TRACEPARENT_KEY = 'traceparent';

/** `traceparent` for a span context, or undefined for the no-op span. */
export function traceparentOf(context: SpanContext): string | undefined {
  if (!isRealSpanContext(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The span context an event's metadata records, if it records a well-formed one. */
export function spanContextOf(metadata: EventMetadata | undefined): SpanContext | undefined {
  const value = metadata?.[TRACEPARENT_KEY];
  if (typeof value !== 'string') return undefined;
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value);
  if (!match) return undefined;
  const context = { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16), isRemote: true };
  return isRealSpanContext(context) ? context : undefined;
}

/** `metadata` with `traceparent` set to `context`, unless it already carries one (the earliest writer wins). */
export function withTraceparent(metadata: EventMetadata | undefined, context: SpanContext | undefined): EventMetadata | undefined {
  if (!context || metadata?.[TRACEPARENT_KEY] !== undefined) return metadata;
  const traceparent = traceparentOf(context);
  return traceparent ? { ...metadata, [TRACEPARENT_KEY]: traceparent } : metadata;
}
