/**
 * The failure: a restaurant admin panel where two admins, a double click and a network retry all
 * update one order. With `UPDATE orders SET status` plus a notification insert keyed on a dedupe
 * key, this ends in `duplicate key value violates unique constraint`, or, after the usual "fix" of
 * a random suffix on the key, in customers getting the same e-mail twice. A failing e-mail
 * provider blocks the status update itself.
 *
 * Here: 50 admin sessions change the statuses of 100 orders, double-clicking and retrying, while the
 * e-mail/SMS sender fails at random, and the SMS gateway is down altogether until every e-mail has
 * gone out. Every change is a command through one state machine, appended with an expected
 * version; notifications are derived from the log and delivered on their own, each channel with
 * slots of its own, so the SMS outage does not hold up e-mail.
 */
import { type EventStore } from '@ordo/core';
import {
  InvalidTransitionError,
  NotificationEvents,
  createNotifications,
  createOrderService,
  defaultNotificationRules,
  foldNotification,
  notificationStream,
  notificationsFor,
  orderStream,
  type Customer,
  type OrderPlaced,
  type HistoryEntry,
  type NotificationRequest,
} from '@ordo/orders';
import { pick, seededRandom } from '../random.js';

export interface AdminPanelSummary {
  orders: number;
  admins: number;
  attempted: number;
  applied: number;
  noops: number;
  retriesAbsorbed: number;
  rejected: number;
  rawErrors: number;
  senderFailures: number;
  /** Notification outcomes per (status change, channel): how many ended sent or dead-lettered. */
  notifications: { transitions: number; exactlyOnce: number; sent: number; deadLettered: number; duplicates: number };
  /** While the SMS gateway was down: every e-mail settled, and how many text messages still waited. */
  smsOutage: { emailsSettled: number; emails: number; emailP99Ms: number; smsWaiting: number };
  auditTrail: HistoryEntry[];
}

const DELIVERY_PATH = ['pending', 'confirmed', 'preparing', 'ready', 'out_for_delivery', 'delivered'];

export async function adminStatusUpdates(
  store: EventStore,
  { orders: orderCount = 100, admins = 50, clicksPerAdmin = 20, seed = 7 } = {},
): Promise<AdminPanelSummary> {
  const random = seededRandom(seed);
  const orders = createOrderService({ store });
  let senderFailures = 0;
  let smsDown = true;
  const delivered = new Map<string, number>();
  const notifications = createNotifications({
    store,
    sender: {
      async send(notification: NotificationRequest, { idempotencyKey }) {
        await new Promise((r) => setTimeout(r, random() * 3));
        if (notification.channel === 'sms' && smsDown) {
          senderFailures++;
          throw new Error('SMS gateway unreachable');
        }
        if (random() < 0.3) {
          senderFailures++;
          throw new Error(`${notification.channel} provider answered 503`);
        }
        delivered.set(idempotencyKey, (delivered.get(idempotencyKey) ?? 0) + 1);
      },
    },
    dispatch: { baseDelayMs: 20, maxDelayMs: 400, maxAttempts: 12 },
  });
  await notifications.start();

  const run = Date.now().toString(36);
  const orderIds: string[] = [];
  for (let i = 0; i < orderCount; i++) {
    const { orderId } = await orders.placeOrder({
      idempotencyKey: `table-${run}-${i}`,
      customer: { email: `guest${i}@example.com`, phone: `+49151${String(1000000 + i)}` },
      currency: 'EUR',
      lines: [{ sku: 'MENU', name: 'Menu of the day', quantity: 1, unitPrice: { amount: 1890, currency: 'EUR' } }],
    });
    orderIds.push(orderId);
  }

  // `succeeded` counts calls that reported a change; a retry racing its original reports the
  // original's result, so how many changes were really written is read from the log below.
  const counts = { attempted: 0, succeeded: 0, noops: 0, rejected: 0, rawErrors: 0 };
  async function click(orderId: string, to: string, actor: string, commandId: string) {
    counts.attempted++;
    try {
      const change = await orders.changeStatus(orderId, to, { actor, commandId, reason: 'admin panel' });
      if (change.noop) counts.noops++;
      else counts.succeeded++;
    } catch (error) {
      if (error instanceof InvalidTransitionError) counts.rejected++;
      else counts.rawErrors++;
    }
  }

  await Promise.all(
    Array.from({ length: admins }, async (_, a) => {
      const actor = `admin:${a + 1}`;
      for (let c = 0; c < clicksPerAdmin; c++) {
        const orderId = pick(random, orderIds);
        // The admin's screen may be stale: they pick the step after what they last saw.
        const seen = (await orders.getOrder(orderId)).status;
        const step = DELIVERY_PATH.indexOf(seen);
        const to = random() < 0.1 ? 'cancelled' : DELIVERY_PATH[Math.min(step + 1 + (random() < 0.15 ? 1 : 0), DELIVERY_PATH.length - 1)]!;
        const commandId = `${actor}:${c}`;
        const clicks = [click(orderId, to, actor, commandId)];
        if (random() < 0.3) clicks.push(click(orderId, to, actor, `${commandId}:double`)); // a double click: a second request
        if (random() < 0.2) clicks.push(click(orderId, to, actor, commandId)); // a network retry: the same request again
        await Promise.all(clicks);
      }
    }),
  );

  // Count outcomes per notification, straight from the log.
  const outcomes = new Map<string, { sent: number; dead: number }>();
  const channels = new Map<string, string>();
  const streams = new Set(orderIds.map(orderStream));
  const customers = new Map<string, Customer>();
  let applied = 0;
  for await (const event of store.readAll({ filter: { eventTypes: ['OrderPlaced', 'OrderStatusChanged'] } })) {
    if (!streams.has(event.streamName)) continue;
    if (event.type === 'OrderPlaced') customers.set(event.streamName, (event.data as OrderPlaced).customer);
    else applied++;
    for (const request of notificationsFor(event, customers.get(event.streamName)!, defaultNotificationRules)) {
      outcomes.set(request.dedupeKey, { sent: 0, dead: 0 });
      channels.set(request.dedupeKey, request.channel);
    }
  }

  // The SMS gateway is still down: e-mail goes out meanwhile. Then the gateway recovers.
  const smsOutage = await whileSmsIsDown(store, channels);
  smsDown = false;
  await notifications.waitUntilIdle({ timeoutMs: 60_000 });
  await notifications.stop();

  for await (const event of store.readAll({ filter: { eventTypes: [NotificationEvents.Sent, NotificationEvents.DeadLettered], streamPrefixes: ['notification-order-'] } })) {
    const key = event.streamName.slice('notification-'.length);
    const o = outcomes.get(key);
    if (!o) continue;
    if (event.type === NotificationEvents.Sent) o.sent++;
    else o.dead++;
  }
  const all = [...outcomes.values()];
  return {
    orders: orderCount,
    admins,
    attempted: counts.attempted,
    applied,
    noops: counts.noops,
    retriesAbsorbed: counts.succeeded - applied,
    rejected: counts.rejected,
    rawErrors: counts.rawErrors,
    senderFailures,
    notifications: {
      transitions: outcomes.size,
      exactlyOnce: all.filter((o) => o.sent + o.dead === 1).length,
      sent: all.reduce((n, o) => n + o.sent, 0),
      deadLettered: all.reduce((n, o) => n + o.dead, 0),
      duplicates: [...delivered.values()].filter((n) => n > 1).length,
    },
    smsOutage,
    auditTrail: await orders.history(orderIds[0]!),
  };
}

/** Waits until every e-mail is settled, then reports how many text messages were still waiting, and the e-mail p99. */
async function whileSmsIsDown(store: EventStore, channels: ReadonlyMap<string, string>): Promise<AdminPanelSummary['smsOutage']> {
  const keys = (channel: string) => [...channels].filter(([, c]) => c === channel).map(([key]) => key);
  const read = async (key: string) => (await store.readStream(notificationStream(key))).events;
  const emails = keys('email');
  const deadline = Date.now() + 60_000;
  let settled = 0;
  while (Date.now() < deadline) {
    settled = (await Promise.all(emails.map(async (key) => foldNotification(await read(key)).settled !== undefined))).filter(Boolean).length;
    if (settled === emails.length) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const smsWaiting = (await Promise.all(keys('sms').map(async (key) => foldNotification(await read(key)).settled === undefined))).filter(Boolean).length;
  const times: number[] = [];
  for (const key of emails) {
    const events = await read(key);
    const done = events.find((e) => e.type === NotificationEvents.Sent || e.type === NotificationEvents.DeadLettered);
    if (done) times.push(done.recordedAt.getTime() - events[0]!.recordedAt.getTime());
  }
  times.sort((a, b) => a - b);
  const emailP99Ms = times[Math.max(0, Math.ceil(times.length * 0.99) - 1)] ?? 0;
  return { emailsSettled: settled, emails: emails.length, emailP99Ms, smsWaiting };
}

export function printAdminPanel(s: AdminPanelSummary): void {
  console.log(`${s.admins} admin sessions, ${s.orders} orders, a sender failing ${s.senderFailures} times`);
  console.log(`  updates attempted:            ${s.attempted}`);
  console.log(`  applied:                      ${s.applied}`);
  console.log(`  absorbed as no-ops:           ${s.noops}`);
  console.log(`  retries absorbed:             ${s.retriesAbsorbed} (same request sent again: one change)`);
  console.log(`  rejected (invalid transition): ${s.rejected}`);
  console.log(`  raw errors:                   ${s.rawErrors}`);
  const n = s.notifications;
  console.log(`  notifications: ${n.exactlyOnce}/${n.transitions} (transition, channel) pairs settled exactly once — ${n.sent} sent, ${n.deadLettered} dead-lettered, ${n.duplicates} sent twice`);
  const o = s.smsOutage;
  console.log(
    `  SMS gateway down: ${o.emailsSettled}/${o.emails} e-mails settled meanwhile (p99 ${o.emailP99Ms} ms from request to outcome), ` +
      `${o.smsWaiting} text messages waiting for their retry, holding no slot; all settled (sent or dead-lettered) once it recovered`,
  );
  console.log(`  audit trail of one order:`);
  for (const e of s.auditTrail) {
    const to = 'to' in e.data ? ` → ${e.data.to}` : '';
    console.log(`    v${e.version} ${e.type}${to} by ${e.actor} at ${e.at}${e.reason ? ` (${e.reason})` : ''}`);
  }
}
