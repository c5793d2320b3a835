/**
 * The failure: orders stuck in `submitting` because the call to the fulfillment provider failed,
 * vanished or timed out. The usual recovery is a script that runs `UPDATE orders SET status = …`,
 * or someone submits again by hand and the warehouse ships twice; afterwards nobody can say what
 * happened to an order, or why.
 *
 * Here: 12 orders go to a flaky provider that refuses some calls (503), loses some, and answers some
 * only after the timeout. The fulfillment process manager submits each order under one idempotency
 * key of its own, times out stuck submissions on a simulated clock and submits them again under the
 * same key, and after three submissions gives up with the reason. An operator completes one stuck
 * order by hand. Every change is a command through the order's state machine, so each order's
 * history says how it ended and why.
 */
import { type EventStore } from '@ordo/core';
import {
  createFulfillment,
  createOrderService,
  FulfillmentEvents,
  fulfillmentStream,
  type FulfillmentProvider,
  type Order,
  type OrderStatusChanged,
} from '@ordo/orders';
import { seededRandom } from '../random.js';

/** How the provider treats one call. */
type Mood = 'accepts' | 'refuses' | 'loses the request' | 'answers late';

/**
 * The external provider, simulated. Like a real idempotent API it keeps one request per
 * idempotency key: calling again with the same key returns the same request, never a second one.
 */
class FlakyProvider implements FulfillmentProvider {
  readonly calls: { orderId: string; attempt: number; mood: Mood }[] = [];
  /** The provider's own records: idempotency key → request, and whether it has answered for it. */
  readonly requests = new Map<string, { requestId: string; orderId: string; answered: boolean }>();
  private lateAnswers: (() => void)[] = [];

  constructor(private readonly random: () => number) {}

  async submit(order: Order, { idempotencyKey, attempt }: { idempotencyKey: string; attempt: number }) {
    const roll = this.random();
    const mood: Mood = roll < 0.45 ? 'accepts' : roll < 0.65 ? 'refuses' : roll < 0.85 ? 'loses the request' : 'answers late';
    this.calls.push({ orderId: order.id, attempt, mood });
    if (mood === 'refuses') throw new Error('503 Service Unavailable');
    if (mood === 'loses the request') return new Promise<never>(() => {}); // no answer, ever
    let request = this.requests.get(idempotencyKey);
    if (!request) {
      request = { requestId: `FUL-${String(this.requests.size + 1).padStart(4, '0')}`, orderId: order.id, answered: false };
      this.requests.set(idempotencyKey, request);
    }
    if (mood === 'answers late') await new Promise<void>((resolve) => this.lateAnswers.push(resolve));
    request.answered = true;
    return { requestId: request.requestId };
  }

  /** The answers held back arrive now (after the process manager's timeout). */
  deliverLateAnswers() {
    const late = this.lateAnswers;
    this.lateAnswers = [];
    for (const answer of late) answer();
  }
}

export interface FulfillmentSummary {
  orders: number;
  providerCalls: number;
  /** Calls the provider answered only after the timeout, when the order had been submitted again. */
  lateAnswers: number;
  /** Requests the provider holds for one order, at most: 1 means no order can ship twice. */
  maxRequestsPerOrder: number;
  /**
   * Provider calls for an (order, attempt) beyond those recorded in the order's fulfillment stream:
   * every call is recorded before it is made, so this must be 0. (A call made again after a step was
   * interrupted is recorded too, as `resumed`, and sent under the same idempotency key.)
   */
  repeatedCalls: number;
  /** Provider calls that match no submission recorded in the order's history. */
  unexplainedCalls: number;
  completed: number;
  failed: number;
  /** Completed by the provider after more than one submission. */
  recovered: number;
  manuallyCompleted: number;
  simulatedMinutes: number;
  endStates: EndState[];
}

export interface EndState {
  label: string;
  status: string;
  submissions: number;
  requestId?: string;
  /** Who made the last change, and the reason given. */
  last: { by: string; reason?: string };
  /** The reasons of the submissions that failed on the way. */
  failures: string[];
}

const TIMEOUT_MS = 2 * 60_000;
const MAX_ATTEMPTS = 3;

export async function fulfillmentSubmission(
  store: EventStore,
  { orders: orderCount = 12, seed = 4 } = {},
): Promise<FulfillmentSummary> {
  const random = seededRandom(seed);
  const startedAt = Date.parse('2026-11-23T09:00:00.000Z');
  let now = startedAt;
  const clock = () => new Date(now);

  const orders = createOrderService({ store, clock });
  const provider = new FlakyProvider(random);
  const fulfillment = createFulfillment({ store, provider, clock, submissionTimeoutMs: TIMEOUT_MS, maxAttempts: MAX_ATTEMPTS });
  await fulfillment.start();

  // Checkout places the orders and starts their submission; the process manager calls the provider.
  const run = Date.now().toString(36);
  const labels = new Map<string, string>();
  for (let i = 1; i <= orderCount; i++) {
    const { orderId } = await orders.placeOrder({
      idempotencyKey: `fulfil-${run}-${i}`,
      customer: { email: `buyer${i}@example.com` },
      currency: 'EUR',
      lines: [{ sku: 'LAMP-01', name: 'Desk lamp', quantity: 1, unitPrice: { amount: 4900, currency: 'EUR' } }],
    });
    labels.set(orderId, `#${String(i).padStart(2, '0')}`);
    await orders.startSubmission(orderId, { actor: 'checkout' });
  }
  await fulfillment.settle();

  // The provider reports on every request it has answered for, through its webhook, which
  // delivers at least once. The webhook handler passes each report to the process manager.
  const reported = new Set<string>();
  async function webhooks() {
    for (const { requestId, orderId, answered } of provider.requests.values()) {
      if (!answered || reported.has(requestId)) continue;
      reported.add(requestId);
      await fulfillment.providerUpdate(orderId, { state: 'processing' });
      await fulfillment.providerUpdate(orderId, { state: 'completed' });
      if (random() < 0.3) await fulfillment.providerUpdate(orderId, { state: 'completed' }); // delivered twice
    }
  }

  for (let round = 1; round <= MAX_ATTEMPTS; round++) {
    await webhooks();
    if (round === 2) {
      // The operator looks at what is stuck, calls the warehouse about the oldest, and closes it.
      const [oldest] = fulfillment.pending();
      if (oldest) {
        await fulfillment.manuallyComplete(oldest.orderId, { actor: 'operator:kim', reason: 'warehouse confirmed shipment by phone' });
      }
    }
    now += TIMEOUT_MS; // two simulated minutes pass
    await fulfillment.settle();
    await fulfillment.tick(clock());
    await fulfillment.settle();
    provider.deliverLateAnswers();
    await fulfillment.settle();
  }
  await webhooks();
  await fulfillment.stop();

  // Everything below is read back: from the order histories, and from the provider's own records.
  const endStates: EndState[] = [];
  let unexplainedCalls = 0;
  for (const [orderId, label] of labels) {
    const order = await orders.getOrder(orderId);
    const changes = (await orders.history(orderId)).filter((e) => e.type === 'OrderStatusChanged');
    const recorded = new Set(changes.map((e) => (e.data as OrderStatusChanged)).filter((c) => c.to === 'submitting').map((c) => c.attempt));
    unexplainedCalls += provider.calls.filter((c) => c.orderId === orderId && !recorded.has(c.attempt)).length;
    const last = changes.at(-1)!;
    endStates.push({
      label,
      status: order.status,
      submissions: order.submissionAttempts,
      ...(order.providerRequestId !== undefined && { requestId: order.providerRequestId }),
      last: { by: last.actor ?? 'unknown', ...(last.reason !== undefined && { reason: last.reason }) },
      failures: changes.slice(0, -1).filter((e) => (e.data as OrderStatusChanged).to === 'failed').map((e) => e.reason ?? ''),
    });
  }
  const perCall = new Map<string, number>();
  for (const call of provider.calls) perCall.set(`${call.orderId}:${call.attempt}`, (perCall.get(`${call.orderId}:${call.attempt}`) ?? 0) + 1);
  for (const orderId of labels.keys()) {
    for (const event of (await store.readStream(fulfillmentStream(orderId))).events) {
      if (event.type !== FulfillmentEvents.Called) continue;
      const key = `${orderId}:${(event.data as { attempt: number }).attempt}`;
      perCall.set(key, (perCall.get(key) ?? 0) - 1);
    }
  }
  const requestsPerOrder = new Map<string, number>();
  for (const request of provider.requests.values()) requestsPerOrder.set(request.orderId, (requestsPerOrder.get(request.orderId) ?? 0) + 1);

  return {
    orders: orderCount,
    providerCalls: provider.calls.length,
    lateAnswers: provider.calls.filter((c) => c.mood === 'answers late').length,
    maxRequestsPerOrder: Math.max(0, ...requestsPerOrder.values()),
    repeatedCalls: [...perCall.values()].filter((n) => n > 0).length,
    unexplainedCalls,
    completed: endStates.filter((e) => e.status === 'completed').length,
    failed: endStates.filter((e) => e.status === 'failed').length,
    recovered: endStates.filter((e) => e.status === 'completed' && e.submissions > 1 && !e.last.by.startsWith('operator:')).length,
    manuallyCompleted: endStates.filter((e) => e.status === 'completed' && e.last.by.startsWith('operator:')).length,
    simulatedMinutes: (now - startedAt) / 60_000,
    endStates,
  };
}

export function printFulfillment(s: FulfillmentSummary): void {
  console.log(`${s.orders} orders sent to a flaky provider over ${s.simulatedMinutes} simulated minutes`);
  console.log(`  provider calls:                   ${s.providerCalls}, ${s.lateAnswers} of them answered after the timeout`);
  console.log(`  provider calls not recorded before they were made: ${s.repeatedCalls}`);
  console.log(`  requests per order at the provider, at most: ${s.maxRequestsPerOrder} (one idempotency key per order)`);
  console.log(`  provider calls no history explains: ${s.unexplainedCalls}`);
  console.log(`  completed: ${s.completed} (${s.recovered} recovered from a stuck submission, ${s.manuallyCompleted} by an operator); failed: ${s.failed}`);
  console.log('  every order, how it ended and why:');
  for (const e of s.endStates) {
    const why = e.last.reason ? `: ${e.last.reason}` : '';
    const request = e.requestId ? `, request ${e.requestId}` : '';
    const submissions = `${e.submissions} submission${e.submissions === 1 ? '' : 's'}`;
    console.log(`    ${e.label} ${e.status} by ${e.last.by}${why} (${submissions}${request})`);
    for (const failure of e.failures) console.log(`        after: ${failure}`);
  }
}
