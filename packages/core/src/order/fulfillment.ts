import type { RecordedEvent } from '../events.js';
import { MemoryCheckpointStore } from '../projections/checkpoints.js';
import { createProjectionRunner, type ProjectionRunner } from '../projections/runner.js';
import type { EventStore } from '../store/event-store.js';
import { InvalidTransitionError } from './lifecycle.js';
import type { Order } from './order-decider.js';
import { createOrderService, type OrderService } from './order-service.js';
import type { OrderStatusChanged } from './schemas.js';

/**
 * The fulfillment process manager. When an order enters `submitting`, it submits the order to the
 * external provider with an idempotency key of the order's own, and records the provider's
 * request id, processing and completion as order commands with expected versions: nothing writes a
 * status any other way. Orders stuck in `submitting` longer than a timeout are failed with the
 * reason and submitted again (same key, so the provider sees one order) up to a limit, then left
 * `failed` with the reason. Time comes from an injected clock and `tick(now)` runs the timer by
 * hand; `start()` also schedules it.
 */

/** The external fulfillment service, provided by the application. */
export interface FulfillmentProvider {
  /**
   * Hands the order over. Must be idempotent by `idempotencyKey`: the same key always names the same
   * request, so a retry after a timeout cannot create a second shipment. Returns the provider's request id.
   */
  submit(order: Order, options: { idempotencyKey: string; attempt: number }): Promise<{ requestId: string }>;
}

/** What the provider later reports about a request (from a webhook or a poll). */
export type ProviderUpdate =
  | { state: 'processing' }
  | { state: 'completed' }
  | { state: 'failed'; reason: string };

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
  /** How often `start()` runs `tick()`. Default a quarter of the timeout. */
  tickEveryMs?: number;
}

/** An order waiting for the provider. */
export interface PendingSubmission {
  orderId: string;
  attempt: number;
  since: string;
}

export interface Fulfillment {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Retries or fails submissions stuck past the timeout at `now`. Returns what it did. */
  tick(now?: Date): Promise<{ retried: string[]; failed: string[] }>;
  /** Records what the provider reported: `processing`, `completed` or `failed`. */
  providerUpdate(orderId: string, update: ProviderUpdate, options?: { actor?: string }): Promise<void>;
  /** An operator completes an order by hand; recorded like any other change. */
  manuallyComplete(orderId: string, options: { actor: string; reason: string }): Promise<void>;
  /** Orders currently in `submitting`, oldest first. */
  pending(): PendingSubmission[];
  /** Resolves when no provider call is in flight and the log as of now has been read. */
  settle(): Promise<void>;
  readonly runner: ProjectionRunner;
}

/** The idempotency key the provider sees for an order: one per order, whatever the attempt. */
export function fulfillmentKey(orderId: string): string {
  return `fulfillment:${orderId}`;
}

export function createFulfillment(options: FulfillmentOptions): Fulfillment {
  const { store, provider } = options;
  const clock = options.clock ?? (() => new Date());
  const orders = options.orders ?? createOrderService({ store, clock });
  const timeoutMs = options.submissionTimeoutMs ?? 120_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const tickEveryMs = options.tickEveryMs ?? Math.max(1000, timeoutMs / 4);
  const actor = 'fulfillment';

  /** Orders in `submitting`, by id, as the log says. */
  const submitting = new Map<string, PendingSubmission>();
  const calls = new Set<Promise<void>>();
  let timer: ReturnType<typeof setInterval> | undefined;

  async function submit(orderId: string, attempt: number) {
    const order = await orders.getOrder(orderId);
    if (order.status !== 'submitting' || order.submissionAttempts !== attempt) return; // moved on already
    let requestId: string;
    try {
      ({ requestId } = await provider.submit(order, { idempotencyKey: fulfillmentKey(orderId), attempt }));
    } catch {
      return; // no answer: the order stays in `submitting` and the timer retries it
    }
    try {
      await orders.recordProviderRequest(orderId, requestId, { actor, commandId: `fulfillment:${orderId}:${attempt}:accepted` });
    } catch (error) {
      // A late answer for an order that was given up on, or already recorded: the history shows why.
      if (!(error instanceof InvalidTransitionError)) throw error;
    }
  }

  function track(event: RecordedEvent) {
    const change = event.data as OrderStatusChanged;
    if (change.to === 'submitting') {
      const attempt = change.attempt ?? 1;
      submitting.set(change.orderId, { orderId: change.orderId, attempt, since: change.at });
      const call = submit(change.orderId, attempt).catch(() => undefined);
      calls.add(call);
      void call.finally(() => calls.delete(call));
    } else {
      submitting.delete(change.orderId);
    }
  }

  // The submitting set lives in memory, so the runner starts from the beginning of the log each
  // time: a restarted process rebuilds it and finds the stuck orders again.
  const runner = createProjectionRunner({
    store,
    checkpoints: new MemoryCheckpointStore(),
    projection: {
      name: 'fulfillment',
      eventTypes: ['OrderStatusChanged'],
      streamPrefixes: ['order-'],
      handle: (event) => track(event),
    },
  });

  async function tick(now = clock()) {
    const retried: string[] = [];
    const failed: string[] = [];
    for (const pending of [...submitting.values()]) {
      if (now.getTime() - Date.parse(pending.since) < timeoutMs) continue;
      const base = `fulfillment:${pending.orderId}:${pending.attempt}`;
      const giveUp = pending.attempt >= maxAttempts;
      const timedOut = await orders.failFulfillment(pending.orderId, {
        actor,
        attempt: pending.attempt,
        reason: giveUp
          ? `no answer from the provider after ${pending.attempt} submissions; giving up`
          : `no answer from the provider within ${Math.round(timeoutMs / 1000)} s (submission ${pending.attempt})`,
        commandId: `${base}:timed-out`,
      });
      if (timedOut.noop) continue; // the provider answered meanwhile
      if (giveUp) {
        failed.push(pending.orderId);
      } else {
        await orders.startSubmission(pending.orderId, {
          actor,
          reason: `retry ${pending.attempt + 1} of ${maxAttempts}`,
          commandId: `${base}:retry`,
        });
        retried.push(pending.orderId);
      }
    }
    return { retried, failed };
  }

  return {
    runner,
    async start() {
      await runner.start();
      timer ??= setInterval(() => void tick().catch(() => undefined), tickEveryMs);
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await runner.stop();
      await Promise.all(calls);
    },
    tick,
    async providerUpdate(orderId, update, opts = {}) {
      const by = { actor: opts.actor ?? 'fulfillment-provider' };
      if (update.state === 'processing') await orders.markProcessing(orderId, by);
      else if (update.state === 'completed') await orders.completeFulfillment(orderId, by);
      else await orders.failFulfillment(orderId, { ...by, reason: update.reason });
    },
    async manuallyComplete(orderId, { actor: who, reason }) {
      await orders.completeFulfillment(orderId, { actor: who, reason });
    },
    pending: () => [...submitting.values()].sort((a, b) => a.since.localeCompare(b.since)),
    async settle() {
      await runner.waitUntilCaughtUp();
      while (calls.size > 0) {
        await Promise.all(calls);
        await runner.waitUntilCaughtUp();
      }
    },
  };
}

