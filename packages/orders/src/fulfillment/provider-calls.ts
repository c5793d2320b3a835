import type { CommandHandler, EffectTelemetry, EventMetadata } from '@ordo/core';
import { isInvalidTransitionError } from '../order/lifecycle.js';
import type { Order } from '../order/order-decider.js';
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
  /** A span per call (see FULFILLMENT_TELEMETRY). */
  telemetry: EffectTelemetry;
  /** Metadata of the event that put the order in `submitting`, if known: the call's span links to its writer. */
  causeOf(orderId: string): EventMetadata | undefined;
}

/** Span name and attributes of a provider call's span. */
export const FULFILLMENT_TELEMETRY = {
  /** Span `submit order`, one per provider call (a lookup on resume included), until its answer is recorded. */
  callSpan: 'submit order',
  orderId: 'ordo.order.id',
  attempt: 'ordo.fulfillment.attempt',
  resumed: 'ordo.fulfillment.resumed',
  /** `accepted`, `found` (a lookup on resume found the request), `refused`, or `stopped` (the answer came after a stop and is not written). */
  outcome: 'ordo.outcome',
} as const;

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
    entry.waiting = true;
    askedProvider();
    const T = FULFILLMENT_TELEMETRY;
    const attributes = { [T.orderId]: orderId, [T.attempt]: attempt, [T.resumed]: resumed };
    await options.telemetry.trace(T.callSpan, { attributes, cause: options.causeOf(orderId), kind: 'client' }, async (span) => {
      const { answer, found } = await ask(orderId, order, attempt, resumed);
      entry.waiting = false;
      const stopped = started !== generation; // stopped meanwhile: the next process manager asks again
      span.setAttributes({ [T.outcome]: stopped ? 'stopped' : 'refusal' in answer ? 'refused' : found ? 'found' : 'accepted' });
      if (!stopped) await record(orderId, attempt, answer).catch(() => options.onAnswerKept(orderId));
    });
  }

  /** Asks the provider: a lookup first when resuming (if it can), else a submission. Never throws. */
  async function ask(orderId: string, order: Order, attempt: number, resumed: boolean): Promise<{ answer: Answer; found: boolean }> {
    const idempotencyKey = fulfillmentKey(orderId);
    try {
      const known = resumed && provider.lookup ? await provider.lookup(idempotencyKey) : undefined;
      return { answer: known ?? (await provider.submit(order, { idempotencyKey, attempt })), found: known !== undefined };
    } catch (error) {
      return { answer: { refusal: describe(error) }, found: false };
    }
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
