export { silentLogger, type Logger } from '../logger.js';
export { INSTRUMENTATION_NAME, type TelemetryOptions } from './otel.js';
export { streamCategory } from './attributes.js';
export { TRACEPARENT_KEY, spanContextOf, traceparentOf } from './trace-context.js';
export { instrumentStore, STORE_METRICS, type InstrumentStoreOptions } from './instrument-store.js';
export { COMMAND_METRICS, type CommandOutcome } from './command-telemetry.js';
export { instrumentProjection, PROJECTION_METRICS } from './instrument-projection.js';
export { observeProjectionRunners, RUNNER_METRICS, type ObservableRunner } from './runner-metrics.js';
