import type { Decider } from '../decider.js';
import type { EventOf, RecordedEvent } from '../events.js';
import type { EventStore } from '../store/event-store.js';
import { metadataFor, type CommandContext } from './context.js';
import type { PendingCommand } from './decide-batch.js';
import type { CommandResult } from './result.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { createStreamQueue } from './stream-queue.js';
import { commandTracer } from '../telemetry/command-telemetry.js';
import type { TelemetryOptions } from '../telemetry/otel.js';
import { catchUp, emptyView, transactBatch, type StreamView } from './transact.js';

/** Commands taken from one stream's queue per read-decide-append round. */
const BATCH_SIZE = 100;

/** What a command handler runs on. */
export interface CommandHandlerOptions<Command, Event extends EventOf, State> {
  store: EventStore;
  decider: Decider<Command, Event, State>;
  retry?: Partial<RetryPolicy>;
  /** Source of randomness for backoff jitter (tests make it deterministic). */
  random?: () => number;
  /** Spans, metrics and debug logs for each command (see "Traces and metrics" in the README). Default: none. */
  telemetry?: TelemetryOptions;
}

/** Runs commands against streams: read → fold → decide → append with the version read. */
export interface CommandHandler<Command, Event extends EventOf, State> {
  handle(stream: string, command: Command, context: CommandContext): Promise<CommandResult<Event, State>>;
  /** Reads and folds a stream, without deciding anything. */
  load(stream: string): Promise<{ state: State; version: bigint | null; events: RecordedEvent<Event['type'], Event['data']>[] }>;
}

/**
 * Creates a command handler. On `WrongExpectedVersionError` it reads only the events it missed,
 * folds them onto the state it had, and decides again, with jittered backoff, up to
 * `retry.maxAttempts`; then the error escapes with `attempts` set.
 *
 * Commands for one stream that arrive while another is being handled by this handler wait in a
 * queue and are then decided together, one after the other on the evolving state, and appended in
 * one batch: writers in one process never race each other for the same stream, so contention costs
 * round trips only between processes. Each command still gets its own result or its own error.
 */
export function createCommandHandler<Command, Event extends EventOf, State>(
  options: CommandHandlerOptions<Command, Event, State>,
): CommandHandler<Command, Event, State> {
  const { store, decider } = options;
  const deps = { store, decider, retry: { ...DEFAULT_RETRY, ...options.retry }, random: options.random ?? Math.random };
  const trace = options.telemetry ? commandTracer(options.telemetry) : undefined;
  type Pending = PendingCommand<Command, CommandResult<Event, State>>;
  const queue = createStreamQueue<Pending, StreamView<Event, State>>({
    batchSize: BATCH_SIZE,
    async open(stream) {
      const view = emptyView<Event, State>(decider);
      await catchUp(store, decider, stream, view);
      return view;
    },
    handle: (stream, view, batch) => transactBatch(deps, stream, view, batch),
  });

  return {
    async load(stream) {
      const events: RecordedEvent<Event['type'], Event['data']>[] = [];
      const view = emptyView<Event, State>(decider);
      await catchUp(store, decider, stream, view, events);
      return { state: view.state, version: view.version, events };
    },

    handle(stream, command, context) {
      if (trace) return trace(stream, command, context, (traced) => enqueue(stream, command, traced));
      return enqueue(stream, command, context);
    },
  };

  function enqueue(stream: string, command: Command, context: CommandContext): Promise<CommandResult<Event, State>> {
    try {
      const metadata = metadataFor(context);
      return new Promise((resolve, reject) =>
        queue.enqueue(stream, { command, commandId: context.commandId, metadata, resolve, reject }),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
