import { WrongExpectedVersionError } from '../errors.js';
import type { NewEvent, RecordedEvent } from '../events.js';
import { decorateStore } from '../store/decorate.js';
import type { AppendOptions, EventStore, ReadAllOptions } from '../store/event-store.js';
import { ATTR, dbSystemOf, streamCategory } from './attributes.js';
import { inSpan, resolveTelemetry, SPAN_KIND, type Attributes, type ResolvedTelemetry, type Span, type TelemetryOptions } from './otel.js';
import { withTraceparent } from './trace-context.js';

/** Options of {@link instrumentStore}. */
export interface InstrumentStoreOptions extends TelemetryOptions {
  /** `db.system` of the spans: `postgresql`, `eventstoredb`, `memory`. Default: guessed from the store's class. */
  dbSystem?: string;
}

/** Metric instrument names of {@link instrumentStore}. */
export const STORE_METRICS = {
  duration: 'db.client.operation.duration',
  conflicts: 'ordo.append.conflicts',
} as const;

interface Instruments extends ResolvedTelemetry {
  duration: { record(value: number, attributes: Attributes): void } | undefined;
  conflicts: { add(value: number, attributes: Attributes): void } | undefined;
}

/** Runs one store operation in a span and times it. */
type Run = <T>(operation: string, stream: string | undefined, extra: Attributes, work: (t: Instruments, span: Span | null) => Promise<T>) => Promise<T>;

/**
 * Wraps a store so that `appendToStream`, `readStream`, `readAll` and `headPosition` each run in a
 * client span (`appendToStream <category>`, …), their latency is recorded in the
 * `db.client.operation.duration` histogram, and conflicts are counted per stream category and logged
 * at debug. Appends record the trace context in each event's `metadata.traceparent` (unless one is
 * already there), so a projection's span can link back to the writer's. Everything else passes
 * through to `store` untouched.
 */
export function instrumentStore<S extends EventStore>(store: S, options: InstrumentStoreOptions = {}): S {
  const system = dbSystemOf(store, options.dbSystem);
  let resolved: Promise<Instruments> | undefined;
  const instruments = () => (resolved ??= resolveTelemetry(options).then(createInstruments));
  const base = (operation: string): Attributes => ({ [ATTR.dbSystem]: system, [ATTR.dbSystemName]: system, [ATTR.dbOperation]: operation });
  const run: Run = async (operation, stream, extra, work) => {
    const t = await instruments();
    const attributes: Attributes = { ...base(operation), ...extra };
    if (stream !== undefined) Object.assign(attributes, { [ATTR.stream]: stream, [ATTR.dbCollection]: streamCategory(stream) });
    const name = stream === undefined ? operation : `${operation} ${streamCategory(stream)}`;
    const started = performance.now();
    try {
      return await inSpan(t.tracer, name, { kind: SPAN_KIND.CLIENT, attributes }, (span) => work(t, span));
    } finally {
      t.duration?.record((performance.now() - started) / 1000, base(operation));
    }
  };
  return decorateStore(store, {
    appendToStream: (stream, events, opts) =>
      run('appendToStream', stream, { [ATTR.eventCount]: events.length, [ATTR.expectedVersion]: String(opts?.expectedVersion) }, (t, span) =>
        append(t, span, store, stream, events, opts),
      ),
    readStream: (stream, opts) => run('readStream', stream, {}, () => store.readStream(stream, opts)),
    readAll: (opts) => readAllInSpan(instruments, base('readAll'), store, opts),
    headPosition: () => run('headPosition', undefined, {}, () => store.headPosition()),
  });
}

function createInstruments(t: ResolvedTelemetry): Instruments {
  return {
    ...t,
    duration: t.meter?.createHistogram(STORE_METRICS.duration, { unit: 's', description: 'Duration of event store operations' }),
    conflicts: t.meter?.createCounter(STORE_METRICS.conflicts, { description: 'Appends refused for a wrong expected version' }),
  };
}

async function append(t: Instruments, span: Span | null, store: EventStore, stream: string, events: readonly NewEvent[], opts: AppendOptions) {
  const context = span?.spanContext();
  const stamped = context ? events.map((e) => ({ ...e, metadata: withTraceparent(e.metadata, context) })) : events;
  try {
    return await store.appendToStream(stream, stamped, opts);
  } catch (error) {
    if (error instanceof WrongExpectedVersionError) {
      t.conflicts?.add(1, { [ATTR.category]: streamCategory(stream) });
      t.logger.debug({ stream, expected: String(error.expected), actual: String(error.actual) }, 'append conflict: wrong expected version');
    }
    throw error;
  }
}

/**
 * `readAll` as one span from the first page until the reader stops taking events. The span is not
 * made active: it stays open across yields, while the reader's own work runs in the reader's context.
 */
async function* readAllInSpan(
  instruments: () => Promise<Instruments>,
  attributes: Attributes,
  store: EventStore,
  opts: ReadAllOptions | undefined,
): AsyncGenerator<RecordedEvent> {
  const t = await instruments();
  const span = t.tracer?.startSpan('readAll', { kind: SPAN_KIND.CLIENT, attributes });
  let count = 0;
  try {
    for await (const event of store.readAll(opts)) {
      count++;
      yield event;
    }
  } finally {
    span?.setAttribute(ATTR.eventCount, count);
    span?.end();
  }
}
