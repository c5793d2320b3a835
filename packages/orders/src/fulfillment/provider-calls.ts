import type { CommandHandler } from '@ordo/core';
import { isInvalidTransitionError } from '../order/lifecycle.js';
import type { OrderService } from '../order/order-service.js';
import { type FulfillmentEvent, type FulfillmentFactCommand, type FulfillmentFacts, fulfillmentStream } from './fulfillment-events.js';
import { fulfillmentKey, type FulfillmentProvider } from './fulfillment.js';

/** A provider call of this process. */
interface Call {
  /** True while the provider has it. */
  waiting: boolean;
  done: Promise<void>;
  /** Resolves once the provider has been asked. */
  asked: Promise<void>;
}

/** What the process manager needs to call the provider. */
export interface ProviderCallsOptions {
  provider: FulfillmentProvider;
  orders: OrderService;
  facts: CommandHandler<FulfillmentFactCommand, FulfillmentEvent, FulfillmentFacts>;
  clock: () => Date;
  actor: string;
  /** Told when an answer could not be recorded (a store error): its step should run again soon. */
  onAnswerKept(orderId: string): void;
}

/** What the provider answered for one call. */
type Answer = { requestId: string } | { refusal: string };

/**
 * The process manager's provider calls. A call is recorded in the fulfillment stream before the
 * provider is asked (so a restart knows it may have been made); a refusal is recorded with its
 * reason; an acceptance is recorded on the order. Calls run outside the reactor's slots: waiting
 * for a provider that never answers holds nothing. After `stop()` nothing a call learns is written.
 */
export function createProviderCalls(options: ProviderCallsOptions) {
  const { provider, orders, facts, clock, actor } = options;
  const calls = new Map<string, Call>();
  /** Answers not yet recorded because the store failed, by `orderId:attempt`: recorded by the next step, never asked again. */
  const kept = new Map<string, Answer>();

  async function record(orderId: string, attempt: number, answer: Answer) {
    const key = `${orderId}:${attempt}`;
    kept.set(key, answer);
    await recordAnswer(options, orderId, attempt, answer);
    kept.delete(key);
  }
  let generation = 0;
  let running = false;

  async function call(orderId: string, attempt: number, resumed: boolean, entry: Call, askedProvider: () => void, started: number) {
    const order = await orders.getOrder(orderId);
    if (order.status !== 'submitting' || order.submissionAttempts !== attempt || started !== generation) return askedProvider();
    const idempotencyKey = fulfillmentKey(orderId);
    let requestId: string;
    entry.waiting = true;
    askedProvider();
    let answer: Answer;
    try {
      const known = resumed && provider.lookup ? await provider.lookup(idempotencyKey) : undefined;
      answer = known ?? (await provider.submit(order, { idempotencyKey, attempt }));
    } catch (error) {
      answer = { refusal: describe(error) };
    }
    entry.waiting = false;
    if (started !== generation) return; // stopped meanwhile: the next process manager asks again
    await record(orderId, attempt, answer).catch(() => options.onAnswerKept(orderId));
  }

  return {
    /** True while this process has a call for `attempt` of the order in progress. */
    inProgress: (orderId: string, attempt: number) => calls.has(`${orderId}:${attempt}`) || kept.has(`${orderId}:${attempt}`),
    /** Records answers of the order kept after a store error (throws while the store still fails). */
    async recordKept(orderId: string) {
      for (const [key, answer] of [...kept]) {
        if (key.startsWith(`${orderId}:`)) await record(orderId, Number(key.slice(orderId.length + 1)), answer);
      }
    },
    /** Records the call, then asks the provider in the background. */
    async start(orderId: string, attempt: number, resumed: boolean) {
      const key = `${orderId}:${attempt}`;
      if (!running || calls.has(key)) return;
      const stream = fulfillmentStream(orderId);
      const { state } = await facts.load(stream);
      const n = (state.calls[attempt] ?? 0) + 1;
      await facts.handle(stream, { type: 'RecordCall', attempt, resumed, at: clock().toISOString() }, { commandId: `call:${attempt}:${n}`, actor });
      let askedProvider = () => {};
      const entry: Call = { waiting: false, done: Promise.resolve(), asked: new Promise<void>((resolve) => (askedProvider = resolve)) };
      entry.done = call(orderId, attempt, resumed, entry, askedProvider, generation)
        .catch(() => undefined) // a store error: the call is no longer in progress, so the next step resumes it
        .finally(() => {
          askedProvider();
          if (calls.get(key) === entry) calls.delete(key);
        });
      calls.set(key, entry);
    },
    /** Calls that are reading or writing, not waiting for the provider. */
    working: () => [...calls.values()].filter((c) => !c.waiting).map((c) => Promise.race([c.done, c.asked])),
    resume() {
      running = true;
      generation++;
    },
    /** Forgets every call; resolves once those not waiting for the provider are done. */
    async stop() {
      running = false;
      generation++;
      kept.clear();
      const working = [...calls.values()].filter((c) => !c.waiting).map((c) => Promise.race([c.done, c.asked]));
      calls.clear();
      await Promise.all(working);
    },
  };
}

function describe(error: unknown): string {
  let message: string;
  try {
    message = error instanceof Error ? String(error.message) : String(error);
  } catch {
    message = 'an error that cannot be described';
  }
  return message.length > 500 ? `${message.slice(0, 500)}… [truncated: ${message.length} characters in all]` : message;
}

/** Records a provider answer: a refusal in the fulfillment stream, an acceptance on the order. */
async function recordAnswer(options: ProviderCallsOptions, orderId: string, attempt: number, answer: Answer) {
  const { facts, orders, clock, actor } = options;
  if ('refusal' in answer) {
    const { state } = await facts.load(fulfillmentStream(orderId));
    await facts.handle(
      fulfillmentStream(orderId),
      { type: 'RecordRefusal', attempt, reason: answer.refusal, at: clock().toISOString() },
      { commandId: `refusal:${attempt}:${state.calls[attempt] ?? 1}`, actor },
    );
    return;
  }
  try {
    await orders.recordProviderRequest(orderId, answer.requestId, { actor, commandId: `fulfillment:${orderId}:${attempt}:accepted` });
  } catch (error) {
    // A late answer for an order that was given up on, or already recorded: the history shows why.
    if (!isInvalidTransitionError(error)) throw error;
  }
}
