import type { ProjectionRunner } from '../projections/runner.js';
import { ATTR } from './attributes.js';
import { resolveTelemetry, type TelemetryOptions } from './otel.js';

/** Metric instrument names of {@link observeProjectionRunners}. */
export const RUNNER_METRICS = {
  lagEvents: 'ordo.projection.lag.events',
  lagSeconds: 'ordo.projection.lag.seconds',
  state: 'ordo.projection.state',
} as const;

/** What a runner's `status()` may report (any of these fields is read when present). */
interface StatusLike {
  state?: string;
  status?: string;
  lag?: { events?: bigint | number; seconds?: number } | bigint | number;
  lagEvents?: bigint | number;
  lagSeconds?: number;
}

/** A runner as the gauges read it: with a `status()` function when the runner has one, else `status` and `lag()`. */
export type ObservableRunner = Pick<ProjectionRunner, 'name' | 'lag'> & { status: unknown };

/** One runner's reading. */
interface Reading {
  state: string;
  lagEvents: number | undefined;
  lagSeconds: number | undefined;
}

/**
 * Observable gauges for projection runners, read at each metric collection: lag in events and in
 * seconds, and the state (a gauge of 1 with the state as an attribute). A runner with a `status()`
 * function is read through it; one without is read through its `status` property and `lag()`
 * (positions, which are events where positions are dense), and reports no lag in seconds.
 * @returns `stop()`, which removes the callback.
 */
export async function observeProjectionRunners(runners: readonly ObservableRunner[], options: TelemetryOptions = {}): Promise<{ stop(): void }> {
  const { meter } = await resolveTelemetry(options);
  if (!meter) return { stop: () => undefined };
  const lagEvents = meter.createObservableGauge(RUNNER_METRICS.lagEvents, { description: 'Events the projection is behind the log head' });
  const lagSeconds = meter.createObservableGauge(RUNNER_METRICS.lagSeconds, { unit: 's', description: 'Age of the oldest event not yet handled' });
  const state = meter.createObservableGauge(RUNNER_METRICS.state, { description: '1 for the state the projection is in' });
  const callback = async (result: { observe(instrument: unknown, value: number, attributes?: Record<string, string>): void }) => {
    await Promise.all(
      runners.map(async (runner) => {
        const reading = await read(runner).catch(() => undefined);
        if (!reading) return;
        const attributes = { [ATTR.projection]: runner.name };
        if (reading.lagEvents !== undefined) result.observe(lagEvents, reading.lagEvents, attributes);
        if (reading.lagSeconds !== undefined) result.observe(lagSeconds, reading.lagSeconds, attributes);
        result.observe(state, 1, { ...attributes, [ATTR.state]: reading.state });
      }),
    );
  };
  meter.addBatchObservableCallback(callback, [lagEvents, lagSeconds, state]);
  return { stop: () => meter.removeBatchObservableCallback(callback, [lagEvents, lagSeconds, state]) };
}

async function read(runner: ObservableRunner): Promise<Reading> {
  if (typeof runner.status === 'function') {
    const s = (await (runner.status as () => StatusLike | Promise<StatusLike>).call(runner)) ?? {};
    const lag = typeof s.lag === 'object' ? s.lag : { events: s.lag };
    const events = lag.events ?? s.lagEvents;
    return { state: String(s.state ?? s.status ?? 'unknown'), lagEvents: events === undefined ? undefined : Number(events), lagSeconds: lag.seconds ?? s.lagSeconds };
  }
  return { state: String(runner.status), lagEvents: Number(await runner.lag()), lagSeconds: undefined };
}
