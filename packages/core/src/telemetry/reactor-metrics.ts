import type { Reactor } from '../projections/reactor.js';
import { ATTR } from './attributes.js';
import { resolveTelemetry, type Attributes, type TelemetryOptions } from './otel.js';

/** Metric instrument names of {@link observeReactors}. */
export const REACTOR_METRICS = {
  inFlight: 'ordo.reactor.in_flight',
  ready: 'ordo.reactor.ready',
  due: 'ordo.reactor.due',
  state: 'ordo.reactor.state',
} as const;

/** A reactor as the gauges read it: its name and `status()` (a reactor, or a dispatcher's `reactor`). */
export type ObservableReactor = Pick<Reactor, 'name' | 'status'>;

/** The part of a batch observable result the callback uses (method syntax: the SDK's takes its own instrument type). */
interface BatchResult {
  observe(instrument: unknown, value: number, attributes?: Attributes): void;
}
type Observe = BatchResult['observe'];

/**
 * Observable gauges for reactors (the notification dispatcher's, fulfillment's, your own), read
 * from each reactor's `status()` at every metric collection: steps in flight, keys ready for a
 * slot and keys waiting for their due time, per partition (`ordo.reactor.partition`: the channel
 * of a notification, `provider` for fulfillment), and the state (a gauge of 1 with the state as an
 * attribute). A partition once seen keeps reporting, with zeros when idle, so a dashboard sees it
 * drop to 0 rather than vanish.
 * @returns `stop()`, which removes the callback.
 */
export async function observeReactors(reactors: readonly ObservableReactor[], options: TelemetryOptions = {}): Promise<{ stop(): void }> {
  const { meter } = await resolveTelemetry(options);
  if (!meter) return { stop: () => undefined };
  const gauges = {
    inFlight: meter.createObservableGauge(REACTOR_METRICS.inFlight, { description: 'Steps of the reactor running now' }),
    ready: meter.createObservableGauge(REACTOR_METRICS.ready, { description: 'Keys waiting for a free slot of their partition' }),
    due: meter.createObservableGauge(REACTOR_METRICS.due, { description: 'Keys waiting for their due time (a retry, a timeout)' }),
    state: meter.createObservableGauge(REACTOR_METRICS.state, { description: '1 for the state the reactor is in' }),
  };
  const seen = new Map<string, Set<string>>();
  const callback = (result: BatchResult) => {
    for (const reactor of reactors) observeOne(reactor, seen, gauges, result.observe.bind(result));
  };
  const all = Object.values(gauges);
  meter.addBatchObservableCallback(callback, all);
  return { stop: () => meter.removeBatchObservableCallback(callback, all) };
}

function observeOne(reactor: ObservableReactor, seen: Map<string, Set<string>>, gauges: Record<'inFlight' | 'ready' | 'due' | 'state', unknown>, observe: Observe) {
  let status: ReturnType<ObservableReactor['status']>;
  try {
    status = reactor.status();
  } catch {
    return; // a reactor that cannot say is left out of this collection, not the others
  }
  const partitions = seen.get(reactor.name) ?? new Set<string>();
  seen.set(reactor.name, partitions);
  for (const partition of Object.keys(status.partitions ?? status.inFlight)) partitions.add(partition);
  for (const partition of partitions) {
    const counts = status.partitions?.[partition];
    const attributes = { [ATTR.reactor]: reactor.name, [ATTR.partition]: partition };
    observe(gauges.inFlight, counts?.inFlight ?? status.inFlight[partition] ?? 0, attributes);
    observe(gauges.ready, counts?.ready ?? 0, attributes);
    observe(gauges.due, counts?.due ?? 0, attributes);
  }
  observe(gauges.state, 1, { [ATTR.reactor]: reactor.name, [ATTR.reactorState]: status.state });
}
