import type { Link, Meter, Span, SpanOptions, Tracer } from '@opentelemetry/api';
import { silentLogger, type Logger } from '../logger.js';

/**
 * The one place `@opentelemetry/api` is loaded: lazily, on first use, and only when no tracer and
 * meter were given. Without the package installed every instrument is a no-op, and a service that
 * never instruments anything never loads it.
 */

/**
 * An OpenTelemetry `Tracer` or `Meter` of `@opentelemetry/api`. Typed as any object, so that Ordo's
 * declarations need no OpenTelemetry package installed (it is an optional peer); Ordo uses it as
 * the API's type.
 */
export type OtelInstrument = object;

/** What instrumentation records to. Anything left out comes from the global OpenTelemetry API, if installed. */
export interface TelemetryOptions {
  /** A `Tracer`. Default: `trace.getTracer('@ordo/core')` from `@opentelemetry/api`, when installed. */
  tracer?: OtelInstrument;
  /** A `Meter`. Default: `metrics.getMeter('@ordo/core')` from `@opentelemetry/api`, when installed. */
  meter?: OtelInstrument;
  /** Where retries and conflicts are logged (at debug). Default: silent. */
  logger?: Logger;
}

/** The instrumentation scope name of every tracer and meter Ordo asks the global API for. */
export const INSTRUMENTATION_NAME = '@ordo/core';

/** Tracer, meter and logger, resolved; tracer or meter is null when neither given nor installed. */
export interface ResolvedTelemetry {
  tracer: Tracer | null;
  meter: Meter | null;
  logger: Logger;
}

type OtelApi = typeof import('@opentelemetry/api');
let loading: Promise<OtelApi | null> | undefined;

function loadApi(): Promise<OtelApi | null> {
  loading ??= import('@opentelemetry/api').then(
    (api) => api,
    () => null,
  );
  return loading;
}

/** Resolves what `options` leaves out from the global API (loaded on first call only). */
export async function resolveTelemetry(options: TelemetryOptions = {}): Promise<ResolvedTelemetry> {
  const logger = options.logger ?? silentLogger;
  const tracer = options.tracer as Tracer | undefined;
  const meter = options.meter as Meter | undefined;
  if (tracer && meter) return { tracer, meter, logger };
  const api = await loadApi();
  return {
    tracer: tracer ?? api?.trace.getTracer(INSTRUMENTATION_NAME) ?? null,
    meter: meter ?? api?.metrics.getMeter(INSTRUMENTATION_NAME) ?? null,
    logger,
  };
}

/** `SpanKind` values of the API, repeated here so that no value import of it is needed. */
export const SPAN_KIND = { INTERNAL: 0, CLIENT: 2, CONSUMER: 4 } as const;
const STATUS_ERROR = 2;

/**
 * Runs `work` inside an active span (so spans it starts are children), ends the span, and records a
 * thrown error on it. Without a tracer, just runs `work`.
 */
export async function inSpan<T>(
  tracer: Tracer | null,
  name: string,
  options: SpanOptions,
  work: (span: Span | null) => Promise<T>,
): Promise<T> {
  if (!tracer) return work(null);
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: STATUS_ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** True when a span context identifies a real (sampled or not) span rather than the no-op one. */
export function isRealSpanContext(context: SpanContext): boolean {
  return /^[0-9a-f]{32}$/.test(context.traceId) && !/^0+$/.test(context.traceId) && !/^0+$/.test(context.spanId);
}

/**
 * Span and metric attributes as Ordo records them: plain values. Declared here, not taken from
 * `@opentelemetry/api`, so that Ordo's public types need no OpenTelemetry package installed.
 */
export type Attributes = Record<string, string | number | boolean | undefined>;

/** The identity of a span, as trace context in event metadata carries it (the API's `SpanContext` fits it). */
export interface SpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}

/** Re-exported types, so the rest of the kernel imports OpenTelemetry types from one file. */
export type { Link, Meter, Span, Tracer };
