import {
  type CheckpointStore,
  type CommandHandler,
  createCommandHandler,
  createReactor,
  effectTelemetry,
  type EventMetadata,
  type EventStore,
  type ProjectionRunner,
  type ReactionStep,
  type Reactor,
  type TelemetryOptions,
} from '@ordo/core';
import type { Order } from '../order/order-decider.js';
import { createOrderService, type OrderService } from '../order/order-service.js';
import type { OrderStatusChanged } from '../order/schemas.js';
import {
  type FulfillmentEvent,
  type FulfillmentFactCommand,
  type FulfillmentFacts,
  fulfillmentFactsDecider,
  fulfillmentStream,
} from './fulfillment-events.js';
import { type FlowAction, type FlowPolicy, type FlowState, nextAction } from './fulfillment-flow.js';
import { createProviderCalls } from './provider-calls.js';
import { createProviderUpdates, type ProviderUpdate } from './provider-updates.js';

export type { ProviderUpdate } from './provider-updates.js';

/**
 * The fulfillment process manager, on the kernel reactor. When an order enters `submitting` it
 * submits the order to the provider under one idempotency key of the order's own and records the
 * answer through the order service; every call and every refusal (with the provider's reason) is
 * an event in the order's fulfillment stream. What to do next is the pure `nextAction`: a
 * submission stuck past the timeout is failed and submitted again in one append (same key), up to
 * a limit, then given up on with the reason. Submissions found on start that a stopped process had
 * called are resumed at once: looked up at the provider by key when it can, else submitted again
 * under the same key. Time comes from an injected clock; `tick(now)` runs the timeouts by hand.
 */

/** The external fulfillment service, provided by the application. */
export interface FulfillmentProvider {
  /**
   * Hands the order over. Must be idempotent by `idempotencyKey`: the same key always names the same
   * request, so a retry after a timeout cannot create a second shipment. Returns the provider's request id.
   */
  submit(order: Order, options: { idempotencyKey: string; attempt: number }): Promise<{ requestId: string }>;
  /**
   * Optional: the request the provider holds under `idempotencyKey`, or `undefined` if it has none.
   * With it, a restarted process manager asks instead of submitting again.
   */
  lookup?(idempotencyKey: string): Promise<{ requestId: string } | undefined>;
}

/** Options of {@link createFulfillment}. */
export interface FulfillmentOptions {
  store: EventStore;
  provider: FulfillmentProvider;
  orders?: OrderService;
  /** Default: the system clock. */
  clock?: () => Date;
  /** An order in `submitting` longer than this is retried. Default 2 minutes. */
  submissionTimeoutMs?: number;
  /** Submissions per order before it is marked `failed`. Default 3. */
  maxAttempts?: number;
  /** Where the reactor keeps its low-water mark (give a durable one, and a restart reads only from the oldest open submission). Default: in memory. */
  checkpoints?: CheckpointStore<unknown>;
  /** Checkpoint key. Default `fulfillment`. */
  name?: string;
  /**
   * A span per provider call (see FULFILLMENT_TELEMETRY), linked to the writer of the status change
   * that asked for it. Default: none, and `@opentelemetry/api` is not loaded.
   */
  telemetry?: TelemetryOptions;
}

/** An order waiting for the provider. */
export interface PendingSubmission {
  orderId: string;
  attempt: number;
  since: string;
}

/** The process manager. */
export interface Fulfillment {
  /** Reads the log from its checkpoint (finding orders in `submitting` and resuming them), then follows it. */
  start(): Promise<void>;
  /** Stops; provider calls still waiting are not waited for, and what they answer later is not written. */
  stop(): Promise<void>;
  /** Retries or fails submissions stuck past the timeout at `now`. Returns what it did. */
  tick(now?: Date): Promise<{ retried: string[]; failed: string[] }>;
  /**
   * Records what the provider reported: `processing`, `completed` or `failed`. An update that
   * changes nothing (late, after an outcome, or a repeat) is recorded as ignored; it never throws
   * for that.
   */
  providerUpdate(orderId: string, update: ProviderUpdate, options?: { actor?: string; deliveryId?: string }): Promise<void>;
  /** An operator completes an order by hand; recorded like any other change. */
  manuallyComplete(orderId: string, options: { actor: string; reason: string }): Promise<void>;
  /** Orders currently in `submitting`, oldest first. */
  pending(): PendingSubmission[];
  /** Resolves once the log as of now is read and every answer the provider has given is recorded. */
  settle(): Promise<void>;
  readonly runner: ProjectionRunner;
  readonly reactor: Reactor;
}

/** The idempotency key the provider sees for an order: one per order, whatever the attempt. */
export function fulfillmentKey(orderId: string): string {
  return `fulfillment:${orderId}`;
}

const ACTOR = 'fulfillment';

/** Creates the fulfillment process manager (see the module comment). */
export function createFulfillment(options: FulfillmentOptions): Fulfillment {
  const { store } = options;
  const clock = options.clock ?? (() => new Date());
  const orders = options.orders ?? createOrderService({ store, clock });
  const policy: FlowPolicy = { submissionTimeoutMs: options.submissionTimeoutMs ?? 120_000, maxAttempts: options.maxAttempts ?? 3 };
  const facts = createCommandHandler({ store, decider: fulfillmentFactsDecider });
  /** Orders in `submitting`, as the log read since the checkpoint says. */
  const submitting = new Map<string, PendingSubmission>();
  /** Metadata of the change that put each order in `submitting`: its provider call's span links to it. */
  const causes = new Map<string, EventMetadata | undefined>();
  let reactor: Reactor | undefined;
  const calls = createProviderCalls({
    provider: options.provider,
    orders,
    facts,
    clock,
    actor: ACTOR,
    onAnswerKept: (orderId) => reactor?.wake(orderId),
    telemetry: effectTelemetry(options.telemetry),
    causeOf: (orderId) => causes.get(orderId),
  });

  const { react, tick } = flowSteps({ orders, facts, submitting, calls, clock, policy });

  reactor = createReactor({
    store,
    clock,
    ...(options.checkpoints && { checkpoints: options.checkpoints }),
    reaction: {
      name: options.name ?? 'fulfillment',
      eventTypes: ['OrderStatusChanged'],
      streamPrefixes: ['order-'],
      route(event) {
        const change = event.data as OrderStatusChanged;
        if (change.to === 'submitting') {
          submitting.set(change.orderId, { orderId: change.orderId, attempt: change.attempt ?? 1, since: change.at });
          causes.set(change.orderId, event.metadata);
        } else {
          submitting.delete(change.orderId);
          causes.delete(change.orderId);
        }
        return { key: change.orderId, partition: 'provider' };
      },
      react: (orderId) => react(orderId),
    },
  });
  const pending = () => [...submitting.values()].sort((a, b) => a.since.localeCompare(b.since));

  const running = reactor;
  return {
    runner: running.runner,
    reactor: running,
    async start() {
      calls.resume();
      await running.start();
    },
    async stop() {
      const calling = calls.stop();
      await running.stop();
      submitting.clear();
      causes.clear();
      await calling;
    },
    tick,
    providerUpdate: createProviderUpdates({ orders, facts, clock }),
    async manuallyComplete(orderId, { actor: who, reason }) {
      await orders.completeFulfillment(orderId, { actor: who, reason });
    },
    pending,
    async settle() {
      for (;;) {
        await running.waitUntilIdle({ includeDue: false });
        // A macrotask turn, so that answers the provider has already given reach their calls.
        await new Promise((resolve) => setTimeout(resolve, 0));
        const working = calls.working();
        if (working.length === 0 && running.runner.position >= (await store.headPosition())) {
          await running.waitUntilIdle({ includeDue: false });
          if (calls.working().length === 0) return;
        }
        await Promise.all(working);
      }
    },
  };
}

interface FlowDeps {
  orders: OrderService;
  facts: CommandHandler<FulfillmentFactCommand, FulfillmentEvent, FulfillmentFacts>;
  submitting: ReadonlyMap<string, PendingSubmission>;
  calls: ReturnType<typeof createProviderCalls>;
  clock: () => Date;
  policy: FlowPolicy;
}

/** The reactor's step for an order and the manual timer: read the streams, ask `nextAction`, do what it says. */
function flowSteps({ orders, facts, submitting, calls, clock, policy }: FlowDeps) {
  async function flowState(orderId: string): Promise<FlowState> {
    const order = await orders.getOrder(orderId);
    const pending = submitting.get(orderId);
    const since = pending !== undefined && pending.attempt === order.submissionAttempts ? pending.since : order.updatedAt;
    const { state } = await facts.load(fulfillmentStream(orderId));
    return { status: order.status, attempt: order.submissionAttempts, since, facts: state, callInProgress: calls.inProgress(orderId, order.submissionAttempts) };
  }

  /** Performs a timeout's action; true when this call applied it. */
  async function expire(orderId: string, action: Extract<FlowAction, { kind: 'retry' | 'give-up' }>): Promise<boolean> {
    const commandId = `fulfillment:${orderId}:${action.attempt}:${action.kind === 'retry' ? 'retry' : 'gave-up'}`;
    const change =
      action.kind === 'give-up'
        ? await orders.failFulfillment(orderId, { actor: ACTOR, attempt: action.attempt, reason: action.reason, commandId })
        : await orders.retrySubmission(orderId, { actor: ACTOR, attempt: action.attempt, reason: action.reason, retryReason: action.retryReason, commandId });
    return change.applied;
  }

  async function react(orderId: string): Promise<ReactionStep> {
    await calls.recordKept(orderId);
    const action = nextAction(await flowState(orderId), clock(), policy);
    switch (action.kind) {
      case 'none':
        return { settled: true };
      case 'wait':
        return { dueAt: action.until };
      case 'submit':
      case 'resume':
        await calls.start(orderId, action.attempt, action.kind === 'resume');
        return { dueAt: clock() }; // look again: the call is now in progress, so it waits for the timeout
      default:
        await expire(orderId, action);
        return { dueAt: clock() };
    }
  }

  const pending = () => [...submitting.values()].sort((a, b) => a.since.localeCompare(b.since));

  async function tick(now = clock()) {
    const retried: string[] = [];
    const failed: string[] = [];
    for (const { orderId } of pending()) {
      const action = nextAction(await flowState(orderId), now, policy);
      if (action.kind !== 'retry' && action.kind !== 'give-up') continue;
      if (await expire(orderId, action)) (action.kind === 'retry' ? retried : failed).push(orderId);
    }
    return { retried, failed };
  }

  return { react, tick };
}
