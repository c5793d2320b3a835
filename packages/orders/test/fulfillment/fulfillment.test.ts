/**
 * The fulfillment process manager against a provider that refuses, never answers, answers late or
 * answers twice. Time is a variable the test moves; `tick(now)` runs the timer, so nothing waits.
 *
 * What every test checks, whatever the provider did:
 * - every order ends `completed` or `failed`, and a failed order says why;
 * - the provider holds at most one request per order (one idempotency key per order), and the
 *   process manager never called it twice for the same (order, attempt);
 * - every provider call is a submission attempt recorded in the order's history, and every status
 *   change there names who made it (and why, for failures and retries).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MemoryCheckpointStore, MemoryEventStore, type EventStore, type NewEvent } from '@ordo/core';
import {
  FulfillmentEvents,
  createFulfillment,
  fulfillmentStream,
  createOrderDecider,
  createOrderService,
  fulfillmentKey,
  type OrderEvent,
  type OrderStatusChanged,
  type ProviderUpdate,
} from '@ordo/orders';
import { specification } from '@ordo/core/testing';
import { FakeProvider, type Answer } from './fake-provider.js';

const TIMEOUT_MS = 120_000;
const MAX_ATTEMPTS = 3;

/** A store, a clock the test moves, the fake provider, and one running process manager. */
async function world(answers: (label: string, call: number) => Answer, store: EventStore = new MemoryEventStore()) {
  let now = Date.parse('2026-11-23T09:00:00.000Z');
  const clock = () => new Date(now);
  const labels = new Map<string, string>();
  const provider = new FakeProvider((orderId, call) => answers(labels.get(orderId)!, call));
  const orders = createOrderService({ store, clock });
  // One checkpoint store for every process manager of the world, as a durable one would be.
  const checkpoints = new MemoryCheckpointStore();
  const create = () => createFulfillment({ store, provider, clock, checkpoints, submissionTimeoutMs: TIMEOUT_MS, maxAttempts: MAX_ATTEMPTS });
  let fulfillment = create();
  await fulfillment.start();

  return {
    store,
    provider,
    orders,
    clock,
    checkpoints,
    get fulfillment() {
      return fulfillment;
    },
    advance(ms: number) {
      now += ms;
    },
    /** Stops this process manager and starts a new one over the same store, as a redeploy would. */
    async restart() {
      await fulfillment.stop();
      fulfillment = create();
      await fulfillment.start();
    },
    /** What the order's fulfillment stream records, by event type. */
    async facts(orderId: string) {
      const { events } = await store.readStream(fulfillmentStream(orderId));
      return events;
    },
    async place(label: string) {
      const { orderId } = await orders.placeOrder({
        idempotencyKey: `cart-${label}`,
        customer: { email: `${label}@example.com` },
        currency: 'EUR',
        lines: [{ sku: 'BOARD-GAME', name: 'Board game', quantity: 1, unitPrice: { amount: 3990, currency: 'EUR' } }],
      });
      labels.set(orderId, label);
      return orderId;
    },
    /** Places an order and starts its submission, as checkout does; waits for the process manager to act. */
    async submit(label: string) {
      const orderId = await this.place(label);
      await orders.startSubmission(orderId, { actor: 'checkout' });
      await fulfillment.settle();
      return orderId;
    },
    /** Moves the clock by `ms` and runs the timer. */
    async tick(ms = TIMEOUT_MS) {
      now += ms;
      await fulfillment.settle();
      const result = await fulfillment.tick(clock());
      await fulfillment.settle();
      return result;
    },
    async status(orderId: string) {
      return (await orders.getOrder(orderId)).status;
    },
    async statusChanges(orderId: string) {
      return (await orders.history(orderId))
        .filter((e) => e.type === 'OrderStatusChanged')
        .map((e) => ({ ...e, change: e.data as OrderStatusChanged }));
    },
  };
}
type World = Awaited<ReturnType<typeof world>>;

/** The order is over: `completed`, or `failed` with a reason. */
async function expectSettled(w: World, orderId: string) {
  const order = await w.orders.getOrder(orderId);
  expect(['completed', 'failed']).toContain(order.status);
  if (order.status === 'failed') expect(order.reason).toEqual(expect.any(String));
}

/**
 * One request per order at the provider, every provider call recorded in the fulfillment stream (an
 * (order, attempt) is called again only when a restarted process manager resumed it, and that is
 * recorded too), and a history that explains every step.
 */
async function expectExplained(w: World, orderId: string) {
  expect(w.provider.requestsFor(orderId).length).toBeLessThanOrEqual(1);
  const recordedCalls = (await w.facts(orderId)).filter((e) => e.type === FulfillmentEvents.Called).map((e) => (e.data as { attempt: number }).attempt);
  for (const call of w.provider.callsFor(orderId)) {
    const made = w.provider.callsFor(orderId).filter((c) => c.attempt === call.attempt).length;
    expect(made, `calls of attempt ${call.attempt}`).toBeLessThanOrEqual(recordedCalls.filter((a) => a === call.attempt).length);
  }
  const changes = await w.statusChanges(orderId);
  const recordedAttempts = changes.filter((e) => e.change.to === 'submitting').map((e) => e.change.attempt);
  for (const call of w.provider.callsFor(orderId)) {
    expect(call.idempotencyKey).toBe(fulfillmentKey(orderId));
    expect(recordedAttempts).toContain(call.attempt);
  }
  for (const entry of changes) {
    const step = `${entry.change.from} → ${entry.change.to}`;
    expect(entry.actor, step).toEqual(expect.any(String));
    expect(entry.commandId, step).toEqual(expect.any(String));
    if (entry.change.to === 'failed') expect(entry.reason, step).toEqual(expect.any(String));
    if (entry.change.to === 'submitting' && (entry.change.attempt ?? 1) > 1) expect(entry.reason, step).toEqual(expect.any(String));
  }
}

const path = (changes: { change: OrderStatusChanged }[]) => changes.map((e) => e.change.to);

describe('fulfillment process manager', () => {
  test('an accepted order is submitted once; updates the provider delivers twice, or late, are absorbed', async () => {
    const w = await world(() => 'accept');
    const orderId = await w.submit('a');
    expect(await w.status(orderId)).toBe('submitted');
    expect((await w.orders.getOrder(orderId)).providerRequestId).toBe(w.provider.requestsFor(orderId)[0]);

    const updates: ProviderUpdate[] = [{ state: 'processing' }, { state: 'processing' }, { state: 'completed' }, { state: 'completed' }];
    for (const update of updates) await w.fulfillment.providerUpdate(orderId, update);
    // A webhook retried out of order: the progress report arrives after the outcome.
    await w.fulfillment.providerUpdate(orderId, { state: 'processing' });

    expect(path(await w.statusChanges(orderId))).toEqual(['submitting', 'submitted', 'processing', 'completed']);
    expect(w.provider.calls).toHaveLength(1);
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('a provider that refuses is retried under the same key after the timeout, then failed with its error', async () => {
    const w = await world(() => 'refuse');
    const orderId = await w.submit('r');
    expect(await w.tick(TIMEOUT_MS - 1)).toEqual({ retried: [], failed: [] }); // not stuck yet
    expect(await w.tick(1)).toEqual({ retried: [orderId], failed: [] });
    expect(await w.tick()).toEqual({ retried: [orderId], failed: [] });
    expect(await w.tick()).toEqual({ retried: [], failed: [orderId] });
    expect(await w.tick()).toEqual({ retried: [], failed: [] });

    expect(w.provider.callsFor(orderId).map((c) => c.attempt)).toEqual([1, 2, 3]);
    const order = await w.orders.getOrder(orderId);
    expect(order.status).toBe('failed');
    expect(order.reason).toContain('503 Service Unavailable');
    expect(order.reason).toContain(`giving up after ${MAX_ATTEMPTS} submissions`);
    const failures = (await w.statusChanges(orderId)).filter((e) => e.change.to === 'failed');
    expect(failures).toHaveLength(3);
    for (const failure of failures) expect(failure.reason).toContain('503 Service Unavailable');
    expect(w.fulfillment.pending()).toEqual([]);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('a provider that never answers: each timeout is recorded with its reason, then the order fails', async () => {
    const w = await world(() => 'drop');
    const orderId = await w.submit('d');
    expect(w.fulfillment.pending()).toEqual([{ orderId, attempt: 1, since: '2026-11-23T09:00:00.000Z' }]);
    for (let i = 0; i < MAX_ATTEMPTS; i++) await w.tick();

    const changes = await w.statusChanges(orderId);
    expect(path(changes)).toEqual(['submitting', 'failed', 'submitting', 'failed', 'submitting', 'failed']);
    expect(changes.map((e) => e.actor)).toEqual(['checkout', ...Array(5).fill('fulfillment')]);
    expect(changes[1]!.reason).toBe('no answer from the provider within 120 s (submission 1)');
    expect(changes[2]!.reason).toBe('retry 2 of 3');
    expect(changes[5]!.reason).toBe('no answer from the provider within 120 s (submission 3); giving up after 3 submissions');
    // A timeout and the retry it causes are one append.
    expect(changes[2]!.version).toBe(changes[1]!.version + 1n);
    expect(changes[2]!.position).toBe(changes[1]!.position + 1n);
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop(); // returns although three provider calls never will
  });

  test('a provider that refuses once and then accepts: the stuck submission is recovered', async () => {
    const w = await world((_, call) => (call === 1 ? 'refuse' : 'accept'));
    const orderId = await w.submit('once');
    expect(await w.status(orderId)).toBe('submitting');
    expect(await w.tick()).toEqual({ retried: [orderId], failed: [] });
    expect(await w.status(orderId)).toBe('submitted');
    await w.fulfillment.providerUpdate(orderId, { state: 'completed' });
    expect(path(await w.statusChanges(orderId))).toEqual(['submitting', 'failed', 'submitting', 'submitted', 'completed']);
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('an answer after the timeout and the retry it raced both name the one request; it is recorded once', async () => {
    const w = await world((_, call) => (call === 1 ? 'late' : 'accept'));
    const orderId = await w.submit('late');
    await w.tick(); // submission 1 timed out: submission 2 gets the same request back at once
    expect(await w.status(orderId)).toBe('submitted');
    expect(w.provider.releaseLate()).toBe(1); // now the first answer arrives too
    await w.fulfillment.settle();
    await w.fulfillment.providerUpdate(orderId, { state: 'completed' });

    expect(w.provider.callsFor(orderId).map((c) => c.attempt)).toEqual([1, 2]);
    expect(w.provider.requestsFor(orderId)).toEqual(['req-1']);
    expect(path(await w.statusChanges(orderId))).toEqual(['submitting', 'failed', 'submitting', 'submitted', 'completed']);
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('an answer after the timeout is recorded while the retry is still waiting', async () => {
    const w = await world((_, call) => (call === 1 ? 'late' : 'drop'));
    const orderId = await w.submit('late-drop');
    await w.tick();
    expect(await w.status(orderId)).toBe('submitting');
    w.provider.releaseLate();
    await w.fulfillment.settle();
    const order = await w.orders.getOrder(orderId);
    expect(order.status).toBe('submitted');
    expect(order.providerRequestId).toBe('req-1');
    expect(await w.tick()).toEqual({ retried: [], failed: [] }); // submitted: nothing is stuck
    await w.fulfillment.providerUpdate(orderId, { state: 'completed' });
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('the provider reports a failure: the order fails with the provider’s reason', async () => {
    const w = await world(() => 'accept');
    const orderId = await w.submit('undeliverable');
    await w.fulfillment.providerUpdate(orderId, { state: 'processing' });
    await w.fulfillment.providerUpdate(orderId, { state: 'failed', reason: 'address undeliverable' });
    await w.fulfillment.providerUpdate(orderId, { state: 'failed', reason: 'address undeliverable' });
    const changes = await w.statusChanges(orderId);
    expect(path(changes)).toEqual(['submitting', 'submitted', 'processing', 'failed']);
    expect(changes.at(-1)).toMatchObject({ actor: 'fulfillment-provider', reason: 'address undeliverable' });
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('an operator completes a stuck order by hand: one more status change, with who and why', async () => {
    const w = await world(() => 'drop');
    const orderId = await w.submit('stuck');
    await w.fulfillment.manuallyComplete(orderId, { actor: 'operator:kim', reason: 'warehouse confirmed shipment by phone' });
    await w.fulfillment.settle();
    expect(await w.tick()).toEqual({ retried: [], failed: [] }); // no longer stuck: neither retried nor failed

    const changes = await w.statusChanges(orderId);
    expect(path(changes)).toEqual(['submitting', 'completed']);
    const manual = changes[1]!;
    expect(manual).toMatchObject({ type: 'OrderStatusChanged', actor: 'operator:kim', reason: 'warehouse confirmed shipment by phone' });
    expect(manual.change).toMatchObject({ from: 'submitting', to: 'completed', by: 'operator:kim' });
    expect(manual.commandId).toEqual(expect.any(String));
    expect(w.fulfillment.pending()).toEqual([]);
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('an operator can complete an order the process manager gave up on', async () => {
    const w = await world(() => 'refuse');
    const orderId = await w.submit('gave-up');
    for (let i = 0; i < MAX_ATTEMPTS; i++) await w.tick();
    expect(await w.status(orderId)).toBe('failed');
    await w.fulfillment.manuallyComplete(orderId, { actor: 'operator:kim', reason: 'shipped from the shop floor' });
    expect((await w.statusChanges(orderId)).at(-1)).toMatchObject({ actor: 'operator:kim', reason: 'shipped from the shop floor' });
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('a restarted process manager resumes in-flight submissions at once, asking the provider by key', async () => {
    const w = await world((label, call) => (label === 'stuck' && call === 1 ? 'drop' : 'accept'));
    const stuck = await w.submit('stuck');
    await w.fulfillment.stop();
    // While no process manager runs, another order enters `submitting`.
    const orphan = await w.place('orphan');
    await w.orders.startSubmission(orphan, { actor: 'checkout' });

    await w.restart();
    await w.fulfillment.settle();
    // No timeout waited for: the lost call is looked up (the provider has nothing) and submitted
    // again under the same key and attempt; the orphan is submitted for the first time.
    expect(w.provider.lookups).toEqual([fulfillmentKey(stuck)]);
    expect(w.provider.callsFor(stuck).map((c) => c.attempt)).toEqual([1, 1]);
    expect(w.provider.callsFor(orphan).map((c) => c.attempt)).toEqual([1]);
    const resumed = (await w.facts(stuck)).filter((e) => e.type === FulfillmentEvents.Called).map((e) => e.data);
    expect(resumed).toEqual([expect.objectContaining({ attempt: 1 }), expect.objectContaining({ attempt: 1, resumed: true })]);
    for (const orderId of [stuck, orphan]) {
      expect(await w.status(orderId)).toBe('submitted');
      await w.fulfillment.providerUpdate(orderId, { state: 'completed' });
      await expectSettled(w, orderId);
      await expectExplained(w, orderId);
    }
    expect(w.fulfillment.pending()).toEqual([]);
    await w.fulfillment.stop();
  });

  test('a restart mid-run loses no provider answer: a refusal is quoted after the restart, a late answer is found by key', async () => {
    const w = await world((label, call) => (label === 'refused' ? (call === 1 ? 'refuse' : 'accept') : call === 1 ? 'late' : 'accept'));
    const refused = await w.submit('refused');
    const late = await w.submit('late');
    const before = await w.checkpoints.read('fulfillment');
    // Stopped without cleanup, as a crash would: the late answer arrives when nobody listens.
    await w.fulfillment.stop();
    w.provider.releaseLate();
    await w.restart();
    await w.fulfillment.settle();
    // The new process read the log from its checkpoint, which stayed below the open submissions.
    expect(before).not.toBeNull();
    expect(await w.status(late)).toBe('submitted'); // found by key at once, no timeout waited for
    expect(w.provider.requestsFor(late)).toEqual([(await w.orders.getOrder(late)).providerRequestId]);
    expect(await w.status(refused)).toBe('submitting'); // a refusal is a fact: not resumed, retried after the timeout
    expect(await w.tick()).toEqual({ retried: [refused], failed: [] });
    const failure = (await w.statusChanges(refused)).find((e) => e.change.to === 'failed')!;
    expect(failure.reason).toBe('the provider refused submission 1: 503 Service Unavailable: fulfillment queue is full');
    expect((await w.facts(refused)).map((e) => e.type)).toEqual([FulfillmentEvents.Called, FulfillmentEvents.Refused, FulfillmentEvents.Called]);
    expect(await w.status(refused)).toBe('submitted');
    for (const orderId of [refused, late]) await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('late or repeated webhooks of every kind after a manual outcome are recorded and ignored; none throws', async () => {
    const w = await world(() => 'accept');
    const done = await w.submit('done');
    await w.fulfillment.manuallyComplete(done, { actor: 'operator:kim', reason: 'confirmed by phone' });
    const gaveUp = await w.submit('gave-up');
    await w.fulfillment.providerUpdate(gaveUp, { state: 'failed', reason: 'address undeliverable' });
    const late: ProviderUpdate[] = [{ state: 'processing' }, { state: 'completed' }, { state: 'failed', reason: 'late failure' }];
    for (const update of late) await w.fulfillment.providerUpdate(done, update);
    await w.fulfillment.providerUpdate(gaveUp, { state: 'processing' });
    await w.fulfillment.providerUpdate(gaveUp, { state: 'failed', reason: 'address undeliverable' });

    expect(path(await w.statusChanges(done))).toEqual(['submitting', 'submitted', 'completed']);
    const ignored = (await w.facts(done)).filter((e) => e.type === FulfillmentEvents.UpdateIgnored).map((e) => e.data);
    expect(ignored).toEqual([
      expect.objectContaining({ update: 'processing', status: 'completed' }),
      expect.objectContaining({ update: 'completed', status: 'completed', why: 'the order is already completed' }),
      expect.objectContaining({ update: 'failed', status: 'completed', reason: 'late failure' }),
    ]);
    expect(path(await w.statusChanges(gaveUp))).toEqual(['submitting', 'submitted', 'failed']);
    const ignoredAfterFailure = (await w.facts(gaveUp)).filter((e) => e.type === FulfillmentEvents.UpdateIgnored).map((e) => e.data);
    expect(ignoredAfterFailure.map((d) => (d as { update: string }).update)).toEqual(['processing', 'failed']);
    await w.fulfillment.stop();
  });

  test('late webhooks of every kind after the process manager gave up are recorded; none throws', async () => {
    const w = await world(() => 'refuse');
    const orderId = await w.submit('gave-up');
    for (let i = 0; i < MAX_ATTEMPTS; i++) await w.tick();
    expect(await w.status(orderId)).toBe('failed');
    // The provider took the order after all and reports on it late: every kind, one after another.
    const late: ProviderUpdate[] = [{ state: 'processing' }, { state: 'failed', reason: 'late failure' }, { state: 'completed' }, { state: 'completed' }];
    for (const update of late) await expect(w.fulfillment.providerUpdate(orderId, update)).resolves.toBeUndefined();

    // `failed` allows `completed` (an order given up on can still be fulfilled): that one is a status
    // change by the provider; the others change nothing and are recorded as ignored, with why.
    const changes = await w.statusChanges(orderId);
    expect(path(changes).slice(-2)).toEqual(['failed', 'completed']);
    expect(changes.at(-1)).toMatchObject({ actor: 'fulfillment-provider', change: { from: 'failed', to: 'completed' } });
    const ignored = (await w.facts(orderId)).filter((e) => e.type === FulfillmentEvents.UpdateIgnored).map((e) => e.data);
    expect(ignored).toEqual([
      expect.objectContaining({ update: 'processing', status: 'failed', why: 'failed does not lead to processing' }),
      expect.objectContaining({ update: 'failed', status: 'failed', reason: 'late failure', why: 'the order is already failed' }),
      expect.objectContaining({ update: 'completed', status: 'completed', why: 'the order is already completed' }),
    ]);
    expect(w.fulfillment.pending()).toEqual([]);
    await expectSettled(w, orderId);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('two timers firing at once retry a stuck order once', async () => {
    const w = await world((_, call) => (call === 1 ? 'drop' : 'accept'));
    const orderId = await w.submit('twice');
    w.advance(TIMEOUT_MS);
    await Promise.all([w.fulfillment.tick(w.clock()), w.fulfillment.tick(w.clock())]);
    await w.fulfillment.settle();
    expect(path(await w.statusChanges(orderId))).toEqual(['submitting', 'failed', 'submitting', 'submitted']);
    expect(w.provider.callsFor(orderId).map((c) => c.attempt)).toEqual([1, 2]);
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('a timeout and its retry are one append: a failed write leaves the order submitting, and the next tick retries it', async () => {
    const memory = new MemoryEventStore();
    let failNextRetry = true;
    // A store whose connection drops on the append that would start submission 2.
    const store: EventStore = {
      appendToStream(stream, events: readonly NewEvent[], options) {
        const startsRetry = events.some((e) => (e.data as Partial<OrderStatusChanged>).to === 'submitting' && (e.data as OrderStatusChanged).attempt === 2);
        if (startsRetry && failNextRetry) {
          failNextRetry = false;
          return Promise.reject(new Error('connection reset by peer'));
        }
        return memory.appendToStream(stream, events, options);
      },
      appendToStreams: (requests) => memory.appendToStreams(requests),
      readStream: (stream, options) => memory.readStream(stream, options),
      readAll: (options) => memory.readAll(options),
      subscribeToAll: (options) => memory.subscribeToAll(options),
      headPosition: () => memory.headPosition(),
      close: () => memory.close(),
    };
    const w = await world((_, call) => (call === 1 ? 'drop' : 'accept'), store);
    const orderId = await w.submit('crash');
    await expect(w.tick()).rejects.toThrow('connection reset by peer');
    const order = await w.orders.getOrder(orderId);
    expect(order.status).toBe('submitting'); // not `failed` with retries left and nobody to retry it
    expect(order.submissionAttempts).toBe(1);

    expect(await w.tick(0)).toEqual({ retried: [orderId], failed: [] });
    expect(await w.status(orderId)).toBe('submitted');
    await expectExplained(w, orderId);
    await w.fulfillment.stop();
  });

  test('property: whatever the provider does per order, every order ends completed or failed, explained, one request each', async () => {
    const answer = fc.constantFrom<Answer>('accept', 'refuse', 'drop', 'late');
    const outcome = fc.constantFrom('completed', 'failed', 'completed twice', 'completed, then a stale processing');
    const plan = fc.record({
      answers: fc.array(answer, { minLength: MAX_ATTEMPTS, maxLength: MAX_ATTEMPTS }),
      outcome,
      /** In which round, if any, an operator completes the order by hand (only orders the provider would complete). */
      manualRound: fc.option(fc.nat({ max: 5 }), { nil: undefined }),
    });
    const round = fc.record({
      release: fc.boolean(),
      restart: fc.boolean(),
      reportProgress: fc.boolean(),
      advanceMs: fc.constantFrom(TIMEOUT_MS / 2, TIMEOUT_MS, 2 * TIMEOUT_MS),
    });

    await fc.assert(
      fc.asyncProperty(fc.array(plan, { minLength: 1, maxLength: 6 }), fc.array(round, { minLength: 1, maxLength: 6 }), async (plans, rounds) => {
        const w = await world((label, call) => plans[Number(label)]!.answers[call - 1] ?? 'drop');
        const ids: string[] = [];
        for (let i = 0; i < plans.length; i++) ids.push(await w.submit(String(i)));

        // A webhook never gets an error back: an update that changes nothing is recorded as ignored.
        const report = (orderId: string, update: ProviderUpdate) => w.fulfillment.providerUpdate(orderId, update);
        const finish = async (i: number) => {
          const orderId = ids[i]!;
          const { outcome } = plans[i]!;
          if (outcome === 'failed') return report(orderId, { state: 'failed', reason: 'address undeliverable' });
          await report(orderId, { state: 'completed' });
          if (outcome === 'completed twice') await report(orderId, { state: 'completed' });
          if (outcome === 'completed, then a stale processing') await report(orderId, { state: 'processing' });
        };

        for (const [r, step] of rounds.entries()) {
          if (step.release) w.provider.releaseLate();
          await w.fulfillment.settle();
          for (const [i, orderId] of ids.entries()) {
            const status = await w.status(orderId);
            if (step.reportProgress && status === 'submitted') await report(orderId, { state: 'processing' });
            if (plans[i]!.manualRound === r && plans[i]!.outcome !== 'failed') {
              await w.fulfillment.manuallyComplete(orderId, { actor: 'operator:kim', reason: 'confirmed with the warehouse' });
            }
          }
          if (step.restart) await w.restart();
          await w.tick(step.advanceMs);
        }
        // Run the timer until nothing is left in `submitting`, let late answers arrive, then the
        // provider reports the outcome of every order it holds.
        for (let i = 0; i <= MAX_ATTEMPTS; i++) await w.tick();
        w.provider.releaseLate();
        await w.fulfillment.settle();
        for (const [i, orderId] of ids.entries()) {
          if (w.provider.requestsFor(orderId).length > 0) await finish(i);
        }

        expect(w.fulfillment.pending()).toEqual([]);
        for (const orderId of ids) {
          await expectSettled(w, orderId);
          await expectExplained(w, orderId);
          // At most one call per submission, plus one for each resume after a restart (recorded as such).
          const resumes = (await w.facts(orderId)).filter((e) => e.type === FulfillmentEvents.Called && (e.data as { resumed?: boolean }).resumed).length;
          expect(w.provider.callsFor(orderId).length).toBeLessThanOrEqual(MAX_ATTEMPTS + resumes);
        }
        await w.fulfillment.stop();
      }),
      { numRuns: 60 },
    );
  });
});

describe('RetrySubmission: a timeout and the next submission, decided together', () => {
  const orderId = '0b7e7a52-3f4d-4f0e-9a51-6c2d8e1f4a20';
  const at = '2026-11-23T09:02:00.000Z';
  const placed: OrderEvent = {
    type: 'OrderPlaced',
    data: {
      orderId,
      idempotencyKey: 'cart-1',
      customer: { email: 'ann@example.com' },
      lines: [{ sku: 'BOARD-GAME', name: 'Board game', quantity: 1, unitPrice: { amount: 3990, currency: 'EUR' } }],
      total: { amount: 3990, currency: 'EUR' },
      placedAt: '2026-11-23T09:00:00.000Z',
      placedBy: 'checkout',
    },
  };
  const change = (from: string, to: string, extra: Partial<OrderStatusChanged> = {}): OrderEvent => ({
    type: 'OrderStatusChanged',
    data: { orderId, from, to, by: 'fulfillment', at, ...extra },
  });
  const submitting = change('pending', 'submitting', { by: 'checkout', attempt: 1 });
  const retry = { type: 'RetrySubmission', orderId, actor: 'fulfillment', at, attempt: 1, reason: 'no answer', retryReason: 'retry 2 of 3' } as const;
  const spec = specification(createOrderDecider());

  test('fails the submission and starts the next one', () => {
    spec
      .given([placed, submitting])
      .when(retry)
      .then([
        change('submitting', 'failed', { reason: 'no answer' }),
        change('failed', 'submitting', { reason: 'retry 2 of 3', attempt: 2 }),
      ]);
  });

  test('changes nothing once that submission has moved on', () => {
    spec.given([placed, submitting, change('submitting', 'submitted', { providerRequestId: 'req-1' })]).when(retry).thenNothing();
    spec
      .given([placed, submitting, change('submitting', 'failed', { reason: 'no answer' }), change('failed', 'submitting', { attempt: 2 })])
      .when(retry)
      .thenNothing();
  });
});
