import {
  createProjectionRunner,
  type EventStore,
  MemoryCheckpointStore,
  type ProjectionRunner,
  type RecordedEvent,
} from '@ordo/core';
import { isInvalidTransitionError } from '../order/lifecycle.js';
import type { Order } from '../order/order-decider.js';
import { createOrderService, type OrderService } from '../order/order-service.js';
import type { OrderStatusChanged } from '../order/schemas.js';

/**
 * The fulfillment process manager. When an order enters `submitting`, it submits the order to the
 * external provider with an idempotency key of the order's own, and records the provider's
 * request id, processing and completion as order commands with expected versions: nothing writes a
 * status any other way. Orders stuck in `submitting` longer than a timeout are failed with the
 * reason and submitted again in the same append (same key, so the provider sees one order) up to a
 * limit, then left `failed` with the reason. Time comes from an injected clock and `tick(now)` runs
 * the timer by hand; `start()` also schedules it.
 *
 * Every provider call is one recorded submission attempt. A process manager calls the provider only
 * for submissions that start while it runs; those it finds in the log when it starts (a call a
 * stopped process may or may not have made) are left to the timer, which retries them as a new
 * attempt under the same key.
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

/** What {@link createFulfillment} needs: the store and the provider, and optionally the clock, the submission timeout and the attempt limit. */
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

/** The running fulfillment process manager: its timer, the provider's reports, an operator's manual completion. */
export interface Fulfillment {
  /** Reads the log (finding orders already in `submitting`), then follows it and schedules the timer. */
  start(): Promise<void>;
  /**
   * Stops the timer and the log reader, and waits for answers already received to be recorded.
   * Provider calls still waiting are not waited for: whatever they answer later is not written, and
   * their orders stay `submitting` for the timer of the next process manager.
   */
  stop(): Promise<void>;
  /** Retries or fails submissions stuck past the timeout at `now`. Returns what it did. */
  tick(now?: Date): Promise<{ retried: string[]; failed: string[] }>;
  /** Records what the provider reported: `processing`, `completed` or `failed`. */
  providerUpdate(orderId: string, update: ProviderUpdate, options?: { actor?: string }): Promise<void>;
  /** An operator completes an order by hand; recorded like any other change. */
  manuallyComplete(orderId: string, options: { actor: string; reason: string }): Promise<void>;
  /** Orders currently in `submitting`, oldest first. */
  pending(): PendingSubmission[];
  /**
   * Resolves once the log as of now has been read and every answer the provider has given has been
   * recorded. Calls still waiting for the provider are not waited for: the timer deals with them.
   */
  settle(): Promise<void>;
  readonly runner: ProjectionRunner;
}

/** The idempotency key the provider sees for an order: one per order, whatever the attempt. */
export function fulfillmentKey(orderId: string): string {
  return `fulfillment:${orderId}`;
}

/**
 * Creates the fulfillment process manager: orders entering `submitting` are submitted to `provider`
 * under {@link fulfillmentKey}, and submissions stuck past `submissionTimeoutMs` are submitted again
 * (same key) until `maxAttempts`, then failed with the reason. Call `start()`, or drive the timer
 * with `tick(now)`.
 */
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
  /** What the provider answered when it refused an order's latest submission: the timeout quotes it. */
  const refusals = new Map<string, { attempt: number; message: string }>();
  /** A provider call of this process: `waiting` while the provider has it; `asked` resolves when it got it. */
  interface Call {
    waiting: boolean;
    done: Promise<void>;
    asked: Promise<void>;
    askedProvider(): void;
  }
  /** This process's provider calls, by `orderId:attempt`. */
  const calls = new Map<string, Call>();
  /** `null` while stopped; else the log position when `start()` ran: later submissions are called. */
  let liveAfter: bigint | null = null;
  /** Changes on every start and stop, so a call from before a stop writes nothing. */
  let generation = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  async function submit(orderId: string, attempt: number, call: Call) {
    const started = generation;
    const order = await orders.getOrder(orderId);
    if (order.status !== 'submitting' || order.submissionAttempts !== attempt) return; // moved on already
    if (started !== generation) return;
    let requestId: string;
    call.waiting = true;
    call.askedProvider();
    try {
      ({ requestId } = await provider.submit(order, { idempotencyKey: fulfillmentKey(orderId), attempt }));
    } catch (error) {
      // The order stays in `submitting` and the timer retries it, quoting this answer.
      refusals.set(orderId, { attempt, message: describe(error) });
      return;
    } finally {
      call.waiting = false;
    }
    if (started !== generation) return; // stopped meanwhile
    try {
      await orders.recordProviderRequest(orderId, requestId, { actor, commandId: `fulfillment:${orderId}:${attempt}:accepted` });
    } catch (error) {
      // A late answer for an order that was given up on, or already recorded: the history shows why.
      if (!isInvalidTransitionError(error)) throw error;
    }
  }

  function track(event: RecordedEvent) {
    const change = event.data as OrderStatusChanged;
    if (change.to !== 'submitting') {
      submitting.delete(change.orderId);
      refusals.delete(change.orderId);
      return;
    }
    const attempt = change.attempt ?? 1;
    submitting.set(change.orderId, { orderId: change.orderId, attempt, since: change.at });
    // A submission from before `start()` may have been called by a process that stopped, and
    // answered or not: calling again under the same attempt would be a call no history explains.
    if (liveAfter === null || event.globalPosition <= liveAfter) return;
    const key = `${change.orderId}:${attempt}`;
    let askedProvider = () => {};
    const asked = new Promise<void>((resolve) => (askedProvider = resolve));
    const call: Call = { waiting: false, done: Promise.resolve(), asked, askedProvider };
    call.done = submit(change.orderId, attempt, call)
      .catch(() => undefined)
      .finally(() => calls.delete(key));
    calls.set(key, call);
  }

  /**
   * Calls that are reading or writing, not waiting for the provider: each resolves when the call
   * is done or has handed the order to the provider, whichever comes first.
   */
  const busy = () =>
    [...calls.values()].filter((call) => !call.waiting).map((call) => Promise.race([call.done, call.asked]));

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
    for (const { orderId, attempt, since } of [...submitting.values()]) {
      if (now.getTime() - Date.parse(since) < timeoutMs) continue;
      const base = `fulfillment:${orderId}:${attempt}`;
      const refusal = refusals.get(orderId);
      const why =
        refusal?.attempt === attempt
          ? `the provider refused submission ${attempt}: ${refusal.message}`
          : `no answer from the provider within ${Math.round(timeoutMs / 1000)} s (submission ${attempt})`;
      // Both commands name the attempt: if the provider answered meanwhile, they change nothing.
      if (attempt >= maxAttempts) {
        const change = await orders.failFulfillment(orderId, {
          actor,
          attempt,
          reason: `${why}; giving up after ${attempt} submissions`,
          commandId: `${base}:gave-up`,
        });
        if (change.applied) failed.push(orderId);
      } else {
        const change = await orders.retrySubmission(orderId, {
          actor,
          attempt,
          reason: why,
          retryReason: `retry ${attempt + 1} of ${maxAttempts}`,
          commandId: `${base}:retry`,
        });
        if (change.applied) retried.push(orderId);
      }
    }
    return { retried, failed };
  }

  return {
    runner,
    async start() {
      if (liveAfter !== null) return;
      generation++;
      liveAfter = await store.headPosition();
      await runner.start();
      timer ??= setInterval(() => void tick().catch(() => undefined), tickEveryMs);
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      generation++;
      liveAfter = null;
      await runner.stop();
      await Promise.all(busy());
    },
    tick,
    async providerUpdate(orderId, update, opts = {}) {
      const by = { actor: opts.actor ?? 'fulfillment-provider' };
      if (update.state === 'processing') {
        try {
          await orders.markProcessing(orderId, by);
        } catch (error) {
          // A progress report that arrives after the outcome (webhooks come out of order) is stale.
          if (!(isInvalidTransitionError(error) && OUTCOMES.has(error.from))) throw error;
        }
      } else if (update.state === 'completed') await orders.completeFulfillment(orderId, by);
      else await orders.failFulfillment(orderId, { ...by, reason: update.reason });
    },
    async manuallyComplete(orderId, { actor: who, reason }) {
      await orders.completeFulfillment(orderId, { actor: who, reason });
    },
    pending: () => [...submitting.values()].sort((a, b) => a.since.localeCompare(b.since)),
    async settle() {
      for (;;) {
        await runner.waitUntilCaughtUp();
        // A macrotask turn, so that answers the provider has already given reach their calls.
        await new Promise((resolve) => setTimeout(resolve, 0));
        const working = busy();
        if (working.length === 0 && runner.position >= (await store.headPosition())) return;
        await Promise.all(working);
      }
    },
  };
}

/** Statuses after which a `processing` report has nothing to add. */
const OUTCOMES = new Set(['completed', 'failed', 'cancelled', 'refunded']);

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 500 ? `${message.slice(0, 500)}…` : message;
}

