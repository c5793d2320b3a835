import fc from 'fast-check';
import type { Decider } from '../../decider.js';
import type { EventOf, RecordedEvent } from '../../events.js';
import { createCommandHandler, type CommandHandler, type RetryPolicy } from '../../command/index.js';
import type { EventStore } from '../../store/event-store.js';
import { MemoryEventStore } from '../../store/memory-store.js';
import type { Answer, Call, RaceInvariant } from './answers.js';
import { invariantViolation } from './invariants.js';
import { linearizabilityViolations } from './linearizability.js';
import { describeError, recordingStore } from './recording-store.js';
import { brief, Timeline } from './timeline.js';

/** One command sent by one caller to one app server. Re-sent commands share their `commandId`. */
export interface RaceCommand<Command> {
  stream: string;
  command: Command;
  commandId: string;
  /** Which app server (0-based) handles it. */
  server: number;
}

/** What {@link raceProperty} runs and checks. */
export interface RaceOptions<Command, Event extends EventOf, State> {
  decider: Decider<Command, Event, State>;
  /** The commands of one run; {@link raceCommands} builds one with re-sent duplicates. */
  commands: fc.Arbitrary<readonly RaceCommand<Command>[]>;
  /** App servers, each with its own command handler and no shared in-process queue. Default 3. */
  servers?: number;
  /** A fresh, empty store for each run. Default: a new `MemoryEventStore`. */
  store?: () => EventStore | Promise<EventStore>;
  /** Called after each run with its store (close a connection, drop a schema). */
  release?: (store: EventStore) => void | Promise<void>;
  /** Must hold for every state the streams pass through. */
  invariant?: RaceInvariant<State>;
  /** The handlers' conflict retries. Default: 25 attempts, no backoff delay. */
  retry?: Partial<RetryPolicy>;
  /** Errors that mean "try again later" rather than a domain refusal. Default: conflicts and outages. */
  isGiveUp?: (error: unknown) => boolean;
}

/** A run broke a promise; the message holds the violations and the run's timeline. */
export class RaceViolationError extends Error {
  override name = 'RaceViolationError';
  constructor(
    readonly violations: readonly string[],
    readonly timeline: string,
  ) {
    super(`${violations.join('\n')}\n\nTimeline of the run:\n${timeline}`);
  }
}

const GIVE_UP_CODES = new Set(['wrong_expected_version', 'store_unavailable', 'append_outcome_unknown']);

function isGiveUpByDefault(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return name === 'WrongExpectedVersionError' || (typeof code === 'string' && GIVE_UP_CODES.has(code));
}

/**
 * A fast-check property: the commands run through several independent command handlers on one
 * store, interleaved by `fc.scheduler`, and the run must be linearizable against the pure
 * decider, keep the store's promises (no duplicate id, contiguous versions, every re-sent command
 * absorbed) and the invariant. Run it with `fc.assert(raceProperty(...), { numRuns })`.
 */
export function raceProperty<Command, Event extends EventOf, State>(options: RaceOptions<Command, Event, State>) {
  return fc.asyncProperty(options.commands, fc.scheduler(), async (commands, scheduler) => {
    const store = await (options.store ?? (() => new MemoryEventStore()))();
    try {
      const timeline = new Timeline();
      const calls = await runCalls(options, store, commands, scheduler, timeline);
      const log = await readLog(store);
      const violations = linearizabilityViolations(options.decider, log, calls);
      const broken = options.invariant && invariantViolation(options.decider, log, options.invariant);
      if (broken) violations.push(broken);
      if (violations.length > 0) throw new RaceViolationError(violations, timeline.toString());
    } finally {
      await options.release?.(store);
    }
  });
}

async function runCalls<Command, Event extends EventOf, State>(
  options: RaceOptions<Command, Event, State>,
  store: EventStore,
  commands: readonly RaceCommand<Command>[],
  scheduler: fc.Scheduler,
  timeline: Timeline,
): Promise<Call<Command>[]> {
  const gate = { pass: (label: string) => scheduler.schedule(Promise.resolve(), label).then(() => undefined) };
  const servers = options.servers ?? 3;
  const handlers: CommandHandler<Command, Event, State>[] = Array.from({ length: servers }, (_, i) =>
    createCommandHandler({
      store: recordingStore(store, `server#${i}`, gate, timeline),
      decider: options.decider,
      retry: { baseDelayMs: 0, maxDelayMs: 0, ...options.retry },
    }),
  );
  const isGiveUp = options.isGiveUp ?? isGiveUpByDefault;
  const calls = commands.map(async (sent, i): Promise<Call<Command>> => {
    const caller = `caller#${i}`;
    await gate.pass(`${caller} sends ${sent.commandId}`);
    const handler = handlers[sent.server % servers]!;
    const invokedAt = timeline.record(caller, `sends ${sent.commandId} to server#${sent.server % servers} for ${sent.stream}: ${brief(sent.command)}`);
    const answer = await answerOf(() => handler.handle(sent.stream, sent.command, { commandId: sent.commandId, actor: caller }), isGiveUp);
    const respondedAt = timeline.record(caller, `is told ${describeAnswer(answer)}`);
    return { caller, stream: sent.stream, commandId: sent.commandId, command: sent.command, invokedAt, respondedAt, answer };
  });
  return scheduler.waitFor(Promise.all(calls));
}

async function answerOf(handle: () => Promise<{ events: readonly EventOf[]; noop: boolean; duplicate: boolean }>, isGiveUp: (e: unknown) => boolean): Promise<Answer> {
  try {
    const result = await handle();
    if (result.noop && !result.duplicate) return { kind: 'noop' };
    return { kind: 'events', events: result.events, duplicate: result.duplicate };
  } catch (error) {
    const name = error instanceof Error ? error.name : String(error);
    return isGiveUp(error) ? { kind: 'gave-up', error: name } : { kind: 'refused', error: name };
  }
}

function describeAnswer(answer: Answer): string {
  switch (answer.kind) {
    case 'events':
      return `${answer.duplicate ? 'already applied' : 'applied'}: [${answer.events.map((e) => e.type).join(', ')}]`;
    case 'noop':
      return 'nothing to do';
    default:
      return `${answer.kind === 'refused' ? 'refused' : 'gave up'}: ${answer.error}`;
  }
}

async function readLog(store: EventStore): Promise<RecordedEvent[]> {
  const log: RecordedEvent[] = [];
  for await (const event of store.readAll()) log.push(event);
  return log;
}
