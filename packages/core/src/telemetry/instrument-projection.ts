import type { RecordedEvent } from '../events.js';
import type { Projection, ProjectionContext } from '../projections/runner.js';
import { ATTR, positionValue } from './attributes.js';
import { inSpan, resolveTelemetry, SPAN_KIND, type Attributes, type Link, type ResolvedTelemetry, type TelemetryOptions } from './otel.js';
import { spanContextOf } from './trace-context.js';

/** Metric instrument names of {@link instrumentProjection}. */
export const PROJECTION_METRICS = {
  duration: 'messaging.process.duration',
  events: 'ordo.projection.events',
} as const;

/** Links per span at most: a batch of 500 events from one request need not carry 500 links. */
const MAX_LINKS = 128;

interface Instruments extends ResolvedTelemetry {
  duration: { record(value: number, attributes: Attributes): void } | undefined;
  events: { add(value: number, attributes: Attributes): void } | undefined;
}

/**
 * Wraps a projection (or a reactor's projection) so that each batch, or each event, it handles runs
 * in a consumer span `process <name>` with the messaging attributes, the positions handed over and
 * links to the spans that wrote the events (`metadata.traceparent`). Spans its handler starts (an
 * append, a command) are children of it, so a trace follows an order from the request to the
 * effect. Hand the result to the runner instead of the projection; nothing else changes.
 */
export function instrumentProjection<Tx>(projection: Projection<Tx>, options: TelemetryOptions = {}): Projection<Tx> {
  let resolved: Promise<Instruments> | undefined;
  const instruments = () =>
    (resolved ??= resolveTelemetry(options).then((t) => ({
      ...t,
      duration: t.meter?.createHistogram(PROJECTION_METRICS.duration, { unit: 's', description: 'Time a projection took to handle a batch' }),
      events: t.meter?.createCounter(PROJECTION_METRICS.events, { description: 'Events handed to a projection' }),
    })));
  const traced = async (operation: 'handle' | 'handleBatch', events: readonly RecordedEvent[], work: () => Promise<void> | void) => {
    const t = await instruments();
    const base: Attributes = {
      [ATTR.messagingSystem]: 'ordo',
      [ATTR.messagingOperationType]: 'process',
      [ATTR.messagingOperationName]: operation,
      [ATTR.messagingConsumerGroup]: projection.name,
      [ATTR.projection]: projection.name,
    };
    const attributes: Attributes = {
      ...base,
      [ATTR.messagingBatchCount]: events.length,
      ...(events.length > 0 && { [ATTR.fromPosition]: positionValue(events[0]!.globalPosition), [ATTR.toPosition]: positionValue(events.at(-1)!.globalPosition) }),
    };
    const started = performance.now();
    try {
      await inSpan(t.tracer, `process ${projection.name}`, { kind: SPAN_KIND.CONSUMER, attributes, links: linksOf(events) }, async () => work());
    } finally {
      t.duration?.record((performance.now() - started) / 1000, base);
      t.events?.add(events.length, base);
    }
  };
  const wrapped: Projection<Tx> = { ...projection };
  if (projection.handle) {
    const handle = projection.handle.bind(projection);
    wrapped.handle = (event: RecordedEvent, context: ProjectionContext<Tx>) => traced('handle', [event], () => handle(event, context));
  }
  if (projection.handleBatch) {
    const handleBatch = projection.handleBatch.bind(projection);
    wrapped.handleBatch = (events, context) => traced('handleBatch', events, () => handleBatch(events, context));
  }
  return wrapped;
}

/** One link per distinct writer span recorded on the events. */
function linksOf(events: readonly RecordedEvent[]): Link[] {
  const links = new Map<string, Link>();
  for (const event of events) {
    const context = spanContextOf(event.metadata);
    if (!context || links.has(context.spanId)) continue;
    links.set(context.spanId, { context, attributes: { [ATTR.stream]: event.streamName, 'ordo.event.type': event.type } });
    if (links.size >= MAX_LINKS) break;
  }
  return [...links.values()];
}
