import type { FulfillmentProvider, Order } from '@ordo/orders';

/** What the fake provider does with one submission call. */
export type Answer =
  /** Takes the order and answers at once with its request id. */
  | 'accept'
  /** Answers with an error and keeps nothing (a 503 from an overloaded provider). */
  | 'refuse'
  /** Never answers and keeps nothing (the request was lost on the way). */
  | 'drop'
  /** Takes the order but holds the answer until `releaseLate()`: it arrives after the timeout. */
  | 'late';

export interface ProviderCall {
  orderId: string;
  idempotencyKey: string;
  attempt: number;
  answer: Answer;
}

/**
 * A fulfillment provider that misbehaves on cue. Like a real idempotent API it keeps one request per
 * idempotency key, whoever asks and however often; so if a client sent two different keys for one
 * order, the provider would hold two requests for it (two shipments), which `requestsFor` shows.
 */
export class FakeProvider implements FulfillmentProvider {
  readonly calls: ProviderCall[] = [];
  /** Idempotency keys looked up (a restarted process manager asks before submitting again). */
  readonly lookups: string[] = [];
  private readonly requests = new Map<string, { requestId: string; orderId: string }>();
  private held: (() => void)[] = [];
  private nextRequest = 1;

  /** `script(orderId, n)` says what to do with the order's n-th call (1-based). */
  constructor(private readonly script: (orderId: string, call: number) => Answer) {}

  async submit(order: Order, { idempotencyKey, attempt }: { idempotencyKey: string; attempt: number }) {
    const n = this.callsFor(order.id).length + 1;
    const answer = this.script(order.id, n);
    this.calls.push({ orderId: order.id, idempotencyKey, attempt, answer });
    if (answer === 'refuse') throw new Error('503 Service Unavailable: fulfillment queue is full');
    if (answer === 'drop') return new Promise<never>(() => {});
    let request = this.requests.get(idempotencyKey);
    if (!request) {
      request = { requestId: `req-${this.nextRequest++}`, orderId: order.id };
      this.requests.set(idempotencyKey, request);
    }
    if (answer === 'late') await new Promise<void>((resolve) => this.held.push(resolve));
    return { requestId: request.requestId };
  }

  /** The request held under `idempotencyKey`, as a real provider's status query would answer. */
  async lookup(idempotencyKey: string) {
    this.lookups.push(idempotencyKey);
    const request = this.requests.get(idempotencyKey);
    return request && { requestId: request.requestId };
  }

  /** Delivers every held answer now; returns how many. */
  releaseLate(): number {
    const held = this.held;
    this.held = [];
    for (const release of held) release();
    return held.length;
  }

  callsFor(orderId: string): ProviderCall[] {
    return this.calls.filter((call) => call.orderId === orderId);
  }

  /** The requests the provider holds for an order. */
  requestsFor(orderId: string): string[] {
    return [...this.requests.values()].filter((r) => r.orderId === orderId).map((r) => r.requestId);
  }

  /** `orderId:attempt` pairs the provider was called with more than once. */
  repeatedAttempts(): string[] {
    const seen = new Map<string, number>();
    for (const call of this.calls) seen.set(`${call.orderId}:${call.attempt}`, (seen.get(`${call.orderId}:${call.attempt}`) ?? 0) + 1);
    return [...seen].filter(([, n]) => n > 1).map(([key]) => key);
  }
}
