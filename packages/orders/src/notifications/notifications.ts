import { v5 as uuidv5 } from 'uuid';
import {
  type EventStore,
  type Projection,
  type RecordedEvent,
} from '@ordo/core';
import { orderStream } from '../order/order-decider.js';
import type { Customer, OrderPlaced, OrderStatusChanged } from '../order/schemas.js';

/**
 * Customer notifications, derived from the log. A projection turns order events into
 * `NotificationRequested` events, one stream per notification, keyed by a dedupe key derived from
 * the cause (`<order stream>:<version>:<channel>`): the same cause always gives the same key, a
 * different cause a different key. A dispatcher (notification-dispatcher.ts) delivers them.
 * Nothing here is on the write path of an order: a failing sender cannot fail a status change.
 */

/** How a customer is notified: `email` goes to `customer.email`, `sms` to `customer.phone`. */
export type NotificationChannel = 'email' | 'sms';

/** Which channels and template an order event notifies on. */
export interface NotificationRule {
  channels: readonly NotificationChannel[];
  template: string;
}

/**
 * Rules by status (`placed` stands for `OrderPlaced`). Statuses without a rule notify nobody.
 * The default tells customers what they care about, and keeps internal steps quiet.
 */
export type NotificationRules = Readonly<Record<string, NotificationRule>>;

/** The rules used when none are given: e-mail on placed, confirmed, delivered, completed and refunded; e-mail and SMS when out for delivery or cancelled. */
export const defaultNotificationRules: NotificationRules = {
  placed: { channels: ['email'], template: 'order-received' },
  confirmed: { channels: ['email'], template: 'order-confirmed' },
  out_for_delivery: { channels: ['email', 'sms'], template: 'order-out-for-delivery' },
  delivered: { channels: ['email'], template: 'order-delivered' },
  completed: { channels: ['email'], template: 'order-completed' },
  cancelled: { channels: ['email', 'sms'], template: 'order-cancelled' },
  refunded: { channels: ['email'], template: 'order-refunded' },
};

/** A notification to deliver. */
export interface NotificationRequest {
  /** `<order stream>:<version>:<channel>`; pass it to the provider as its idempotency key. */
  dedupeKey: string;
  orderId: string;
  channel: NotificationChannel;
  template: string;
  /** An e-mail address or an E.164 phone number. */
  recipient: string;
  /** The status the order entered (`placed` for a new order). */
  status: string;
  /** The event that caused it. */
  causedBy: { eventId: string; stream: string; version: string };
}

/** Notification stream events. */
export const NotificationEvents = {
  Requested: 'NotificationRequested',
  /** A dispatcher claimed an attempt: other dispatchers keep off until `leaseUntil`. */
  Attempted: 'NotificationAttempted',
  Sent: 'NotificationSent',
  Failed: 'NotificationFailed',
  DeadLettered: 'NotificationDeadLettered',
} as const;

/** The prefix of every notification stream (`notification-<dedupeKey>`); subscribe with it to read only notifications. */
export const NOTIFICATION_STREAM_PREFIX = 'notification-';

/** The stream holding one notification's request and every delivery attempt. */
export function notificationStream(dedupeKey: string): string {
  return `${NOTIFICATION_STREAM_PREFIX}${dedupeKey}`;
}

/** The dedupe key of a notification: same cause, same key. */
export function dedupeKeyOf(stream: string, version: bigint, channel: NotificationChannel): string {
  return `${stream}:${version}:${channel}`;
}

/**
 * The notifications an order event asks for (pure): one per channel of the status's rule whose
 * contact the customer gave.
 */
export function notificationsFor(
  event: Pick<RecordedEvent, 'id' | 'type' | 'data' | 'streamName' | 'streamVersion'>,
  customer: Customer,
  rules: NotificationRules,
): NotificationRequest[] {
  let status: string;
  let orderId: string;
  if (event.type === 'OrderPlaced') {
    status = 'placed';
    orderId = (event.data as OrderPlaced).orderId;
  } else if (event.type === 'OrderStatusChanged') {
    status = (event.data as OrderStatusChanged).to;
    orderId = (event.data as OrderStatusChanged).orderId;
  } else {
    return [];
  }
  const rule = rules[status];
  if (!rule) return [];
  const requests: NotificationRequest[] = [];
  for (const channel of rule.channels) {
    const recipient = channel === 'email' ? customer.email : customer.phone;
    if (recipient === undefined) continue;
    requests.push({
      dedupeKey: dedupeKeyOf(event.streamName, event.streamVersion, channel),
      orderId,
      channel,
      template: rule.template,
      recipient,
      status,
      causedBy: { eventId: event.id, stream: event.streamName, version: event.streamVersion.toString() },
    });
  }
  return requests;
}

const REQUEST_NAMESPACE = '1d4b7c52-6a0e-4f3b-9e21-5c8a7d9f0e13';

/** What {@link notificationRequestsProjection} needs: the store to read orders from and append requests to, and the rules. */
export interface NotificationRequestsOptions {
  store: EventStore;
  rules?: NotificationRules;
  /** Projection name (its checkpoint key). Default `notification-requests`. */
  name?: string;
}

/**
 * The projection from order events to `NotificationRequested`. Each request is appended to its own
 * stream with `no_stream` and an id derived from the dedupe key, so handing an event over again
 * (after a crash, or from a second copy) is absorbed by the store: never a second request.
 */
export function notificationRequestsProjection(options: NotificationRequestsOptions): Projection {
  const { store } = options;
  const rules = options.rules ?? defaultNotificationRules;
  const customers = new Map<string, Customer>();

  async function customerOf(stream: string): Promise<Customer> {
    const known = customers.get(stream);
    if (known) return known;
    const read = await store.readStream(stream, { fromVersion: 0n, maxCount: 1 });
    const placed = read.events[0];
    if (!placed || placed.type !== 'OrderPlaced') throw new Error(`Stream ${stream} does not start with OrderPlaced`);
    const customer = (placed.data as OrderPlaced).customer;
    remember(stream, customer);
    return customer;
  }

  function remember(stream: string, customer: Customer) {
    if (customers.size >= 10_000) customers.delete(customers.keys().next().value!);
    customers.set(stream, customer);
  }

  return {
    name: options.name ?? 'notification-requests',
    eventTypes: ['OrderPlaced', 'OrderStatusChanged'],
    streamPrefixes: [orderStream('')],
    // Appends with derived ids, absorbed when repeated: no checkpoint transaction to hold open.
    transactional: false,
    async handle(event) {
      if (event.type === 'OrderPlaced') remember(event.streamName, (event.data as OrderPlaced).customer);
      const status = event.type === 'OrderPlaced' ? 'placed' : (event.data as OrderStatusChanged).to;
      if (!rules[status]) return;
      for (const request of notificationsFor(event, await customerOf(event.streamName), rules)) {
        await store.appendToStream(
          notificationStream(request.dedupeKey),
          [
            {
              id: uuidv5(request.dedupeKey, REQUEST_NAMESPACE),
              type: NotificationEvents.Requested,
              data: request,
              metadata: {
                causationId: event.id,
                actor: 'notifications',
                ...(typeof event.metadata.correlationId === 'string' && { correlationId: event.metadata.correlationId }),
              },
            },
          ],
          { expectedVersion: 'no_stream' },
        );
      }
    },
  };
}
