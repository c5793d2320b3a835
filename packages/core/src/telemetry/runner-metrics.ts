import type { ProjectionRunner } from '../projections/runner.js';
import { ATTR } from './attributes.js';
import { resolveTelemetry, type TelemetryOptions } from './otel.js';

/** Metric instrument names of {@link observeProjectionRunners}. */
export const RUNNER_METRICS = {
  lagEvents: 'ordo.projection.lag.events',
  lagSeconds: 'ordo.projection.lag.seconds',
  state: 'ordo.projection.state',
} as const;

/** A runner as the gauges read it: its name, `status()` and `lag()`. */
export type ObservableRunner = Pick<ProjectionRunner, 'name' | 'lag' | 'status'>;

/** One runner's reading. */
interface Reading {
  state: string;
  lagEvents: number | undefined;
  lagSeconds: number | undefined;
}

/**
 * Observable gauges for projection runners, read at each metric collection: lag in events and in
 * seconds, and the state (a gauge of 1 with the state as an attribute), from each runner's
 * `status()`. A runner that has not run yet has seen no head: its lag in events is asked of the
 * store through `lag()` (positions, which are events where positions are dense), with no lag in seconds.
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
  const status = runner.status();
  // A runner that has not run yet has seen no head, so knows no lag of its own: ask the store.
  const unread = status.state === 'stopped' && status.position === 0n;
  const events = unread ? Number(await runner.lag()) : Number(status.lag.events);
  return { state: status.state, lagEvents: events, lagSeconds: unread ? undefined : status.lag.seconds };
}
