import { hostname } from 'node:os';
import {
  type CheckpointStore,
  type CommandHandler,
  createCommandHandler,
  createReactor,
  type EffectTelemetry,
  effectTelemetry,
  type EventMetadata,
  type EventStore,
  type ProjectionRunner,
  type ReactionStep,
  type Reactor,
  type ReactorStatus,
  type TelemetryOptions,
} from '@ordo/core';
import {
  type DeliveryAction,
  type DeliveryCommand,
  describeFailure,
  nextDeliveryAction,
  notificationDeliveryDecider,
  retryTime,
} from './notification-delivery.js';
import type { NotificationEvent, NotificationState } from './notification-events.js';
import { NOTIFICATION_STREAM_PREFIX, NotificationEvents, type NotificationRequest } from './notifications.js';

/** Delivers notifications. Provided by the service (an e-mail API, an SMS gateway). */
export interface Sender {
  /**
   * Sends one notification. Pass `idempotencyKey` to the provider as its idempotency key, so a send
   * repeated after a crash is dropped by the provider. Throw (or reject) to report a failure.
   */
  send(notification: NotificationRequest, options: { idempotencyKey: string; attempt: number }): Promise<unknown>;
}

/** Options of {@link createNotificationDispatcher}. */
export interface NotificationDispatcherOptions {
  store: EventStore;
  sender: Sender;
  /** Where the dispatcher keeps its low-water mark. Default: in memory. */
  checkpoints?: CheckpointStore<unknown>;
  /** Checkpoint key. Default `notification-dispatcher`. */
  name?: string;
  /** Names this dispatcher in its claims. Default: host, process id and a counter. */
  instance?: string;
  /** Attempts before a notification is dead-lettered. Default 5. */
  maxAttempts?: number;
  /** Backoff between attempts: full jitter up to `min(maxDelayMs, baseDelayMs * 2^(attempt-1))`. Defaults 1 s and 5 min. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A send that takes longer counts as failed. Default 10 s. */
  sendTimeoutMs?: number;
  /** How long a claimed attempt keeps other dispatchers off (must exceed `sendTimeoutMs`). Default 60 s. */
  leaseMs?: number;
  /** Sends in flight at once per channel. Default 8. */
  concurrency?: number;
  /** Clock. */
  now?: () => Date;
  random?: () => number;
  /**
   * A span per delivery attempt and a dead-letter counter per channel (see NOTIFICATION_TELEMETRY).
   * Default: none, and `@opentelemetry/api` is not loaded.
   */
  telemetry?: TelemetryOptions;
}

/** Span and metric names of the dispatcher's telemetry, and their attributes. */
export const NOTIFICATION_TELEMETRY = {
  /** Span `deliver <channel>`, one per attempt: claim, send, record. */
  deliverSpan: 'deliver',
  /** Counter of notifications this dispatcher dead-lettered, by channel. */
  deadLetters: 'ordo.notification.dead_letters',
  key: 'ordo.notification.key',
  channel: 'ordo.notification.channel',
  attempt: 'ordo.notification.attempt',
  outcome: 'ordo.outcome',
} as const;

/** Counts since the dispatcher was created. */
export interface DispatcherStats {
  sent: number;
  failedAttempts: number;
  deadLettered: number;
  /** Deliveries being worked on now, all channels. */
  inFlight: number;
}

/** The notification dispatcher: a reactor over `NotificationRequested` events. */
export interface NotificationDispatcher {
  start(): Promise<void>;
  /**
   * Stops: waits for no retry, only for sends in progress (each at most `sendTimeoutMs`) so that
   * their outcomes are recorded; unsettled notifications are taken up by the next start.
   */
  stop(): Promise<void>;
  /** Resolves when every notification requested so far is sent or dead-lettered: none is due or in flight. */
  waitUntilIdle(options?: { timeoutMs?: number }): Promise<void>;
  readonly stats: DispatcherStats;
  /** In flight per channel, notifications waiting for a retry, the checkpoint, the last store error. */
  status(): ReactorStatus;
  /** The projection runner reading the log for it: its `status()` says when it is retrying an outage. */
  readonly runner: ProjectionRunner;
  /** The reactor it runs on (partitions are channels): hand it to `observeReactors` or `ordoHealth`. */
  readonly reactor: Reactor;
}

let instances = 0;

type Handler = CommandHandler<DeliveryCommand, NotificationEvent, NotificationState>;
type Outcome = Extract<DeliveryCommand, { type: 'RecordSent' | 'RecordFailure' | 'DeadLetter' }>;

/**
 * Creates the dispatcher. It runs on the kernel reactor: each notification stream is a key, its
 * channel the partition, so a failing or slow channel holds up only itself, at most `concurrency`
 * sends per channel at once, and a notification waiting for its retry holds no slot. Each step
 * asks {@link nextDeliveryAction} what is due and records through the delivery decider:
 * `NotificationAttempted` (a claim, so two dispatchers never send the same attempt), then
 * `NotificationSent`, `NotificationFailed { attempt, error, retryAt }` or, after `maxAttempts`,
 * `NotificationDeadLettered`. Every outcome is recorded, whatever the sender threw; an outcome the
 * store refused is kept and recorded by the next step. Event ids derive from command ids.
 */
export function createNotificationDispatcher(options: NotificationDispatcherOptions): NotificationDispatcher {
  const name = options.name ?? 'notification-dispatcher';
  const config = {
    instance: options.instance ?? `${hostname()}:${process.pid}:${++instances}`,
    policy: { maxAttempts: options.maxAttempts ?? 5 },
    backoff: { baseDelayMs: options.baseDelayMs ?? 1000, maxDelayMs: options.maxDelayMs ?? 300_000 },
    sendTimeoutMs: options.sendTimeoutMs ?? 10_000,
    leaseMs: options.leaseMs ?? 60_000,
    now: options.now ?? (() => new Date()),
    random: options.random ?? Math.random,
  };
  const handler = createCommandHandler({ store: options.store, decider: notificationDeliveryDecider });
  const stats: DispatcherStats = { sent: 0, failedAttempts: 0, deadLettered: 0, inFlight: 0 };
  const step = deliveryStep(handler, options.sender, config, stats, effectTelemetry(options.telemetry));
  const reactor = createReactor({
    store: options.store,
    ...(options.checkpoints && { checkpoints: options.checkpoints }),
    clock: config.now,
    concurrency: options.concurrency ?? 8,
    reaction: {
      name,
      eventTypes: [NotificationEvents.Requested],
      streamPrefixes: [NOTIFICATION_STREAM_PREFIX],
      route: (event) => ({ key: event.streamName, partition: String((event.data as { channel?: unknown }).channel ?? 'unknown') }),
      react: step,
    },
  });
  return {
    get stats() {
      stats.inFlight = Object.values(reactor.status().inFlight).reduce((a, b) => a + b, 0);
      return stats;
    },
    start: () => reactor.start(),
    stop: () => reactor.stop(),
    waitUntilIdle: (opts) => reactor.waitUntilIdle(opts),
    status: () => reactor.status(),
    runner: reactor.runner,
    reactor,
  };
}

interface DeliveryConfig {
  instance: string;
  policy: { maxAttempts: number };
  backoff: { baseDelayMs: number; maxDelayMs: number };
  sendTimeoutMs: number;
  leaseMs: number;
  now: () => Date;
  random: () => number;
}

/** One reactor step for a notification stream: record an outcome kept from before, or do what is due. */
function deliveryStep(handler: Handler, sender: Sender, config: DeliveryConfig, stats: DispatcherStats, telemetry: EffectTelemetry) {
  /** Outcomes the store refused to record (an outage), with their channel: the next step of that stream records them first. */
  const unrecorded = new Map<string, { outcome: Outcome; channel: string }>();

  async function record(stream: string, outcome: Outcome, channel: string): Promise<NotificationState> {
    unrecorded.set(stream, { outcome, channel });
    const attempt = outcome.type === 'DeadLetter' ? outcome.attempts : outcome.attempt;
    const result = await handler.handle(stream, outcome, {
      commandId: `${outcome.type}:${attempt}:${'dispatcher' in outcome ? outcome.dispatcher : 'expired'}`,
      actor: 'notification-dispatcher',
      metadata: { dispatcher: config.instance },
    });
    unrecorded.delete(stream);
    if (!result.noop && !result.duplicate) {
      if (outcome.type === 'RecordSent') stats.sent++;
      else if (outcome.type === 'RecordFailure') stats.failedAttempts++;
      else {
        stats.deadLettered++;
        await telemetry.count(NOTIFICATION_TELEMETRY.deadLetters, 'Notifications dead-lettered by this dispatcher', { [NOTIFICATION_TELEMETRY.channel]: channel });
      }
    }
    return result.state;
  }

  /** One attempt in a span `deliver <channel>`, linked to the request's writer. */
  function tracedAttempt(stream: string, request: NotificationRequest, n: number, cause: EventMetadata | undefined): Promise<ReactionStep> {
    const T = NOTIFICATION_TELEMETRY;
    const attributes = { [T.key]: request.dedupeKey, [T.channel]: request.channel, [T.attempt]: n, 'ordo.stream': stream };
    return telemetry.trace(`${T.deliverSpan} ${request.channel}`, { attributes, cause, kind: 'client' }, (span) =>
      attempt(stream, request, n, (outcome) => span.setAttributes({ [T.outcome]: outcome })),
    );
  }

  async function attempt(stream: string, request: NotificationRequest, n: number, settle: (outcome: string) => void): Promise<ReactionStep> {
    const leaseUntil = new Date(config.now().getTime() + config.leaseMs).toISOString();
    const claim = await handler.handle(
      stream,
      { type: 'ClaimAttempt', attempt: n, dispatcher: config.instance, leaseUntil, at: config.now().toISOString() },
      { commandId: `ClaimAttempt:${n}:${config.instance}`, actor: 'notification-dispatcher', metadata: { dispatcher: config.instance } },
    );
    if (claim.noop) {
      settle('claimed-elsewhere'); // another dispatcher moved first
      return toStep(nextDeliveryAction(claim.state, config.now(), config.policy));
    }
    // Not cut short by a stop: the outcome is recorded either way, so a restart need not wait out the lease.
    const failure = await sendWithin(sender, request, n, config.sendTimeoutMs);
    const { instance: dispatcher } = config;
    const outcome: Outcome =
      failure === undefined
        ? { type: 'RecordSent', attempt: n, dispatcher }
        : n >= config.policy.maxAttempts
          ? { type: 'DeadLetter', attempts: n, lastError: failure, dispatcher }
          : { type: 'RecordFailure', attempt: n, dispatcher, error: failure, retryAt: retryTime(config.now(), n, config.backoff, config.random).toISOString() };
    settle(outcome.type === 'RecordSent' ? 'sent' : outcome.type === 'DeadLetter' ? 'dead-lettered' : 'failed');
    return toStep(nextDeliveryAction(await record(stream, outcome, request.channel), config.now(), config.policy));
  }

  return async function react(stream: string): Promise<ReactionStep> {
    const kept = unrecorded.get(stream);
    if (kept) await record(stream, kept.outcome, kept.channel);
    const { state, events } = await handler.load(stream);
    const action = nextDeliveryAction(state, config.now(), config.policy);
    if (action.kind === 'attempt') return tracedAttempt(stream, state.request!, action.attempt, events[0]?.metadata);
    if (action.kind === 'dead-letter') {
      const at = config.now().toISOString();
      await record(stream, { type: 'DeadLetter', attempts: action.attempts, lastError: action.lastError, at }, state.request!.channel);
      return { settled: true };
    }
    return toStep(action);
  };
}

function toStep(action: DeliveryAction): ReactionStep {
  if (action.kind === 'settled') return { settled: true };
  if (action.kind === 'wait') return { dueAt: action.until };
  return { dueAt: new Date(0) }; // due now
}

/**
 * Calls the sender, giving up after `timeoutMs`. Returns `undefined` on success, else a description
 * of the failure that is safe to record. A stop does not cut a send short: its outcome is worth
 * recording, and the timeout bounds the wait.
 */
async function sendWithin(sender: Sender, request: NotificationRequest, attempt: number, timeoutMs: number): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => sender.send(request, { idempotencyKey: request.dedupeKey, attempt })),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`send timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return undefined;
  } catch (error) {
    return describeFailure(error);
  } finally {
    clearTimeout(timer);
  }
}
