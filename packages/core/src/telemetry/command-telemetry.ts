import { OrdoError, WrongExpectedVersionError } from '../errors.js';
import type { CommandContext } from '../command/context.js';
import { ATTR, streamCategory } from './attributes.js';
import { inSpan, resolveTelemetry, SPAN_KIND, type Attributes, type ResolvedTelemetry, type Span, type TelemetryOptions } from './otel.js';
import { traceparentOf, TRACEPARENT_KEY } from './trace-context.js';

/** Metric instrument names of the command handler's telemetry. */
export const COMMAND_METRICS = {
  duration: 'ordo.command.duration',
  retries: 'ordo.command.retries',
} as const;

/** How one command ended, as the `ordo.outcome` attribute says it. */
export type CommandOutcome = 'applied' | 'noop' | 'duplicate' | 'conflict' | 'refused' | 'error';

/** The part of a command result telemetry reads. */
interface ResultLike {
  attempts: number;
  noop: boolean;
  duplicate: boolean;
}

interface Instruments extends ResolvedTelemetry {
  duration: { record(value: number, attributes: Attributes): void } | undefined;
  retries: { add(value: number, attributes: Attributes): void } | undefined;
}

/** Wraps one command's handling in a span and records its outcome; made once per handler. */
export type CommandTracer = <R extends ResultLike>(stream: string, command: unknown, context: CommandContext, handle: (context: CommandContext) => Promise<R>) => Promise<R>;

/**
 * Telemetry for a command handler: each command runs in a span `handle <command type>` with the
 * stream, command type, attempts, conflicts and outcome; its events carry the span's `traceparent`;
 * retries are counted per stream category and logged at debug.
 */
export function commandTracer(options: TelemetryOptions): CommandTracer {
  let resolved: Promise<Instruments> | undefined;
  const instruments = () =>
    (resolved ??= resolveTelemetry(options).then((t) => ({
      ...t,
      duration: t.meter?.createHistogram(COMMAND_METRICS.duration, { unit: 's', description: 'Time to handle one command, queueing and retries included' }),
      retries: t.meter?.createCounter(COMMAND_METRICS.retries, { description: 'Extra read-decide-append rounds after conflicts' }),
    })));
  return async (stream, command, context, handle) => {
    const t = await instruments();
    const type = typeof (command as { type?: unknown })?.type === 'string' ? (command as { type: string }).type : 'command';
    const category = streamCategory(stream);
    const started = performance.now();
    const attributes: Attributes = { [ATTR.stream]: stream, [ATTR.category]: category, [ATTR.commandType]: type };
    let outcome: CommandOutcome = 'error';
    try {
      return await inSpan(t.tracer, `handle ${type}`, { kind: SPAN_KIND.INTERNAL, attributes }, async (span) => {
        try {
          const result = await handle(withSpanContext(context, span));
          outcome = result.duplicate ? 'duplicate' : result.noop ? 'noop' : 'applied';
          settle(t, span, stream, category, result.attempts, outcome);
          return result;
        } catch (error) {
          outcome = error instanceof WrongExpectedVersionError ? 'conflict' : error instanceof OrdoError ? 'refused' : 'error';
          settle(t, span, stream, category, error instanceof WrongExpectedVersionError ? (error.attempts ?? 1) : undefined, outcome);
          throw error;
        }
      });
    } finally {
      t.duration?.record((performance.now() - started) / 1000, { [ATTR.category]: category, [ATTR.commandType]: type, [ATTR.outcome]: outcome });
    }
  };
}

/** The context with the command span's `traceparent` added to the metadata its events will carry. */
function withSpanContext(context: CommandContext, span: Span | null): CommandContext {
  const traceparent = span ? traceparentOf(span.spanContext()) : undefined;
  if (!traceparent || context.metadata?.[TRACEPARENT_KEY] !== undefined) return context;
  return { ...context, metadata: { ...context.metadata, [TRACEPARENT_KEY]: traceparent } };
}

function settle(t: Instruments, span: Span | null, stream: string, category: string, attempts: number | undefined, outcome: CommandOutcome) {
  span?.setAttribute(ATTR.outcome, outcome);
  if (attempts === undefined) return;
  span?.setAttributes({ [ATTR.attempts]: attempts, [ATTR.conflicts]: attempts - 1 });
  if (attempts <= 1) return;
  t.retries?.add(attempts - 1, { [ATTR.category]: category });
  t.logger.debug({ stream, attempts, outcome }, 'command retried after conflicts');
}
