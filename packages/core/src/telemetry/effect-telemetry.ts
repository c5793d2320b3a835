import type { EventMetadata } from '../events.js';
import { inSpan, resolveTelemetry, SPAN_KIND, type Attributes, type Link, type ResolvedTelemetry, type TelemetryOptions } from './otel.js';
import { spanContextOf } from './trace-context.js';

/** The span of one effect, as the code performing it sees it (a no-op without a tracer). */
export interface EffectSpan {
  setAttributes(attributes: Attributes): void;
}

/** How one effect's span is described. */
export interface EffectSpanOptions {
  attributes: Attributes;
  /** Metadata of the event that caused the effect: its `traceparent` becomes the span's link. */
  cause?: EventMetadata | undefined;
  /** `client` for a call to an outside service; default `internal`. */
  kind?: 'internal' | 'client';
}

/** Spans and counters for a process that performs effects (a dispatcher, a process manager). */
export interface EffectTelemetry {
  /**
   * Runs `work` in an active span (so a provider client's own spans are its children), linked to
   * the span that wrote the causing event. A thrown error is recorded on the span and rethrown.
   */
  trace<T>(name: string, options: EffectSpanOptions, work: (span: EffectSpan) => Promise<T>): Promise<T>;
  /** Adds 1 to the counter `name` (created on first use). */
  count(name: string, description: string, attributes: Attributes): Promise<void>;
}

const noSpan: EffectSpan = { setAttributes: () => undefined };

/**
 * Telemetry for the steps of a reactor's reaction. Without `options` it is a no-op that never
 * loads `@opentelemetry/api`, so a process started without a `telemetry` option pays nothing.
 */
export function effectTelemetry(options: TelemetryOptions | undefined): EffectTelemetry {
  if (!options) return { trace: (_name, _options, work) => work(noSpan), count: async () => undefined };
  let resolved: Promise<ResolvedTelemetry> | undefined;
  const telemetry = () => (resolved ??= resolveTelemetry(options));
  const counters = new Map<string, { add(value: number, attributes: Attributes): void } | undefined>();
  return {
    async trace(name, { attributes, cause, kind }, work) {
      const { tracer } = await telemetry();
      const context = spanContextOf(cause);
      const links: Link[] = context ? [{ context }] : [];
      const spanKind = kind === 'client' ? SPAN_KIND.CLIENT : SPAN_KIND.INTERNAL;
      return inSpan(tracer, name, { kind: spanKind, attributes, links }, (span) => work(span ?? noSpan));
    },
    async count(name, description, attributes) {
      const { meter } = await telemetry();
      if (!counters.has(name)) counters.set(name, meter?.createCounter(name, { description }));
      counters.get(name)?.add(1, attributes);
    },
  };
}
