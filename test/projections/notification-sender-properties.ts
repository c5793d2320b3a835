/**
 * The dispatcher against senders that misbehave per channel: reject, throw odd values (a number, an
 * object whose toString throws, a 2 MiB message), hang, or answer only after the send timeout. And
 * a channel outage next to a healthy channel: the healthy one is not held up.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventStore, RecordedEvent } from '@ordo/core';
import {
  MAX_ERROR_LENGTH,
  NotificationEvents,
  createNotifications,
  createOrderService,
  notificationStream,
  foldNotification,
  type NotificationRequest,
  type Sender,
} from '@ordo/orders';
import { checkpointsFromHead, eventually, hash, orderInput, prng, readLog, runToken, withStore, type OpenStore } from './helpers.js';

/** How the sender answers one call. */
type Answer = 'ok' | 'reject' | 'throw-number' | 'throw-unprintable' | 'reject-huge' | 'hang' | 'late';
const answers: readonly Answer[] = ['ok', 'reject', 'throw-number', 'throw-unprintable', 'reject-huge', 'hang', 'late'];

const HUGE = 'x'.repeat(2 * 1024 * 1024);
const SEND_TIMEOUT_MS = 15;

function answer(kind: Answer): Promise<unknown> {
  switch (kind) {
    case 'ok':
      return Promise.resolve({ id: 'msg' });
    case 'reject':
      return Promise.reject(new Error('provider said 503'));
    case 'throw-number':
      throw 42;
    case 'throw-unprintable':
      throw {
        toString() {
          throw new Error('toString throws too');
        },
        toJSON() {
          throw new Error('and so does toJSON');
        },
      };
    case 'reject-huge':
      return Promise.reject(new Error(HUGE));
    case 'hang':
      return new Promise(() => undefined);
    case 'late':
      return new Promise((resolve) => setTimeout(resolve, SEND_TIMEOUT_MS * 3));
  }
}

/** Places orders with e-mail and phone and cancels every second one: e-mail for each, SMS for the cancelled. */
async function placeAndCancel(store: EventStore, token: string, count: number): Promise<string[]> {
  const orders = createOrderService({ store });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { orderId } = await orders.placeOrder(orderInput(`sp-${token}-${i}`, { email: true, phone: true }));
    if (i % 2 === 1) await orders.changeStatus(orderId, 'cancelled', { actor: 'admin' });
    ids.push(orderId);
  }
  return ids;
}

async function requestsAfter(store: EventStore, start: bigint, token: string): Promise<NotificationRequest[]> {
  const events = await readLog(store, { eventTypes: [NotificationEvents.Requested], streamPrefixes: [notificationStream('order-')] }, start);
  return events.map((e) => e.data as NotificationRequest).filter((r) => r.dedupeKey.length > 0 && tokens.get(r.orderId) === token);
}
const tokens = new Map<string, string>();

/** Each (transition, channel) sent or dead-lettered exactly once, nothing stranded, every error recorded safely. */
export function notificationSenderProperty(open: OpenStore, { runs = 20 }: { runs?: number } = {}): void {
  describe('dispatcher against a misbehaving sender, per channel (property)', () => {
    it('every notification is sent or dead-lettered exactly once; every failure is recorded, however odd', async () => {
      const plan = fc.record({
        orders: fc.integer({ min: 1, max: 5 }),
        seed: fc.integer(),
        /** Answers drawn per channel, so one channel can be far worse than the other. */
        email: fc.array(fc.constantFrom(...answers), { minLength: 1, maxLength: 4 }),
        sms: fc.array(fc.constantFrom(...answers), { minLength: 1, maxLength: 4 }),
        maxAttempts: fc.integer({ min: 1, max: 4 }),
      });
      await fc.assert(
        fc.asyncProperty(plan, (p) =>
          withStore(open, async (store) => {
            const token = runToken();
            const start = await store.headPosition();
            const name = `dispatcher-${token}`;
            const checkpoints = await checkpointsFromHead(store, 'notification-requests', name);
            const ids = await placeAndCancel(store, token, p.orders);
            for (const id of ids) tokens.set(id, token);
            const calls: { key: string; attempt: number; answer: Answer }[] = [];
            const sender: Sender = {
              send(request, { attempt }) {
                const pool = request.channel === 'email' ? p.email : p.sms;
                const kind = pool[Math.floor(prng(hash(`${p.seed}:${request.dedupeKey}:${attempt}`))() * pool.length)]!;
                calls.push({ key: request.dedupeKey, attempt, answer: kind });
                return answer(kind);
              },
            };
            const notifications = createNotifications({
              store,
              sender,
              checkpoints,
              dispatch: { name, maxAttempts: p.maxAttempts, baseDelayMs: 1, maxDelayMs: 4, sendTimeoutMs: SEND_TIMEOUT_MS, leaseMs: 5_000 },
            });
            await notifications.start();
            await notifications.waitUntilIdle({ timeoutMs: 30_000 });
            const status = notifications.dispatcher.status();
            await notifications.stop();
            expect(status).toMatchObject({ inFlight: {}, ready: 0, due: 0 });

            const requests = await requestsAfter(store, start, token);
            expect(requests.length).toBe(ids.length + 2 * Math.floor(ids.length / 2));
            for (const request of requests) await checkOne(store, request, calls, p.maxAttempts);
          }),
        ),
        { numRuns: runs },
      );
    });
  });
}

async function checkOne(
  store: EventStore,
  request: NotificationRequest,
  calls: readonly { key: string; attempt: number; answer: Answer }[],
  maxAttempts: number,
) {
  const key = request.dedupeKey;
  const { events } = await store.readStream(notificationStream(key));
  const types = events.map((e) => e.type);
  const state = foldNotification(events);
  const terminal = types.filter((t) => t === NotificationEvents.Sent || t === NotificationEvents.DeadLettered);
  expect(terminal, `${key}: ${types.join(',')}`).toHaveLength(1);
  expect(state.settled).toBeDefined();
  const mine = calls.filter((c) => c.key === key);
  expect(mine.map((c) => c.attempt)).toEqual(mine.map((_, i) => i + 1));
  expect(mine.length).toBeLessThanOrEqual(maxAttempts);
  if (state.settled === 'sent') expect(mine.at(-1)!.answer).toBe('ok');
  else expect(mine).toHaveLength(maxAttempts);
  for (const event of events) checkRecordedError(event, mine);
}

/** A recorded error is short, says so when it was cut, and describes even a value whose toString throws. */
function checkRecordedError(event: RecordedEvent, calls: readonly { attempt: number; answer: Answer }[]) {
  const data = event.data as { attempt?: number; attempts?: number; error?: string; lastError?: string };
  const error = data.error ?? data.lastError;
  if (error === undefined) return;
  expect(error.length).toBeLessThanOrEqual(MAX_ERROR_LENGTH + 100);
  const call = calls.find((c) => c.attempt === (data.attempt ?? data.attempts));
  if (!call) return;
  const expected: Partial<Record<Answer, RegExp>> = {
    reject: /^provider said 503$/,
    'throw-number': /^42$/,
    'throw-unprintable': /cannot be described/,
    'reject-huge': /truncated: 2097152 characters in all/,
    hang: /timed out/,
    late: /timed out/,
  };
  const pattern = expected[call.answer];
  if (pattern) expect(error).toMatch(pattern);
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
}

/**
 * One run with SMS down and one with both channels healthy: every e-mail is sent while SMS still
 * has retries pending (so e-mail was not held up), and the e-mail p99 of the two runs is printed.
 */
export function channelIsolationCheck(open: OpenStore): void {
  describe('channel isolation', () => {
    it('an SMS outage does not hold up e-mail: all e-mail is sent while SMS retries are still pending', () =>
      withStore(open, async (store) => {
        const healthy = await emailRun(store, false);
        const outage = await emailRun(store, true);
        expect(outage.smsPendingWhenEmailDone).toBeGreaterThan(0);
        expect(healthy.smsPendingWhenEmailDone).toBe(0);
        const ratio = outage.p99 / Math.max(1, healthy.p99);
        console.log(
          `e-mail delivery p99: ${outage.p99} ms with SMS down, ${healthy.p99} ms with both healthy (ratio ${ratio.toFixed(2)}); ` +
            `${outage.smsPendingWhenEmailDone} SMS still pending when the last e-mail was sent`,
        );
      }));
  });
}

async function emailRun(store: EventStore, smsDown: boolean) {
  const token = runToken();
  const start = await store.headPosition();
  const name = `dispatcher-${token}`;
  const checkpoints = await checkpointsFromHead(store, 'notification-requests', name);
  const sender: Sender = {
    async send(request) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (smsDown && request.channel === 'sms') throw new Error('SMS gateway unreachable');
    },
  };
  const notifications = createNotifications({
    store,
    sender,
    checkpoints,
    // A retry backoff far longer than an e-mail takes: with the old shared slots, SMS retries would hold them.
    dispatch: { name, concurrency: 2, maxAttempts: 4, baseDelayMs: 300, maxDelayMs: 2_000, random: () => 1, sendTimeoutMs: 1_000 },
  });
  await notifications.start();
  const ids = await placeAndCancel(store, token, 24);
  for (const id of ids) tokens.set(id, token);
  const keysOf = async (channel: string) => (await requestsAfter(store, start, token)).filter((r) => r.channel === channel).map((r) => r.dedupeKey);
  const settled = async (key: string) => foldNotification((await store.readStream(notificationStream(key))).events).settled !== undefined;
  await eventually(async () => (await keysOf('email')).length === 36, 'e-mail requested');
  const emails = await keysOf('email');
  await eventually(async () => (await Promise.all(emails.map(settled))).every(Boolean), 'every e-mail sent', 30_000);
  const sms = await keysOf('sms');
  const smsPendingWhenEmailDone = (await Promise.all(sms.map(settled))).filter((s) => !s).length;
  await notifications.waitUntilIdle({ timeoutMs: 30_000 });
  await notifications.stop();
  const times: number[] = [];
  for (const key of emails) {
    const { events } = await store.readStream(notificationStream(key));
    const sent = events.find((e) => e.type === NotificationEvents.Sent);
    expect(sent, key).toBeDefined();
    times.push(sent!.recordedAt.getTime() - events[0]!.recordedAt.getTime());
  }
  return { p99: p99(times), smsPendingWhenEmailDone };
}
