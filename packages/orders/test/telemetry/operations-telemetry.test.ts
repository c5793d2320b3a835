/**
 * Metrics and spans of the notification dispatcher and the fulfillment process manager: the reactor
 * gauges per partition (a failing SMS channel shows pending and in-flight work while e-mail shows
 * zeros), the dead-letter counter, and a span per delivery attempt and per provider call, linked to
 * the span that wrote the causing event.
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MetricReader, MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { instrumentStore, MemoryEventStore, observeReactors, traceparentOf, type NewEvent } from '@ordo/core';
import {
  createFulfillment,
  createNotificationDispatcher,
  createOrderService,
  FULFILLMENT_TELEMETRY,
  NOTIFICATION_TELEMETRY,
  NotificationEvents,
  notificationStream,
  type NotificationRequest,
} from '@ordo/orders';

class TestReader extends MetricReader {
  protected override async onShutdown() {}
  protected override async onForceFlush() {}
}

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test');
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
afterAll(() => void context.disable());
beforeEach(() => exporter.reset());

/** A meter with its own reader, so each test sees only its own instruments. */
function metering() {
  const reader = new TestReader();
  const meter = new MeterProvider({ readers: [reader] }).getMeter('test');
  return { meter, collect: async () => (await reader.collect()).resourceMetrics };
}

/** The data points of `name`, as `{ attributes, value }`. */
function points(metrics: ResourceMetrics, name: string) {
  const found = metrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (found?.dataPoints ?? []) as { attributes: Record<string, unknown>; value: unknown }[];
}

/** The value of `name` for the point whose attributes include `attributes`. */
function valueOf(metrics: ResourceMetrics, name: string, attributes: Record<string, unknown>) {
  const point = points(metrics, name).find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
  return point?.value;
}

function request(dedupeKey: string, channel: 'email' | 'sms'): NotificationRequest {
  const recipient = channel === 'email' ? 'ada@example.com' : '+441234567890';
  return { dedupeKey, orderId: 'order-1', channel, template: 'order-out-for-delivery', recipient, status: 'out_for_delivery', causedBy: { eventId: 'e-1', stream: 'order-1', version: '3' } };
}

describe('dispatcher telemetry', () => {
  it('reports pending and in-flight SMS while e-mail is at zero, counts dead letters, and traces each attempt linked to the request', async () => {
    const store = new MemoryEventStore();
    const { meter, collect } = metering();
    let now = Date.parse('2026-12-01T09:00:00.000Z');
    let releaseHanging = () => {};
    const hanging = new Promise<void>((resolve) => (releaseHanging = resolve));
    const sender = {
      async send(n: NotificationRequest) {
        if (n.dedupeKey === 'sms-failing') throw new Error('SMS gateway: 503');
        if (n.dedupeKey === 'sms-hanging') await hanging;
      },
    };
    const dispatcher = createNotificationDispatcher({
      store, sender, maxAttempts: 2, baseDelayMs: 3_600_000, random: () => 1, sendTimeoutMs: 3_600_000, leaseMs: 7_200_000,
      now: () => new Date(now), telemetry: { tracer, meter },
    });
    const observer = await observeReactors([dispatcher.reactor], { meter });
    const checkout = tracer.startSpan('POST /checkout');
    const traceparent = traceparentOf(checkout.spanContext())!;
    checkout.end();
    for (const [key, channel] of [['email-1', 'email'], ['sms-failing', 'sms'], ['sms-hanging', 'sms']] as const) {
      const event: NewEvent = { id: crypto.randomUUID(), type: NotificationEvents.Requested, data: request(key, channel), metadata: { traceparent } };
      await store.appendToStream(notificationStream(key), [event], { expectedVersion: 'no_stream' });
    }
    await dispatcher.start();
    await until(() => dispatcher.status().due === 1 && dispatcher.status().inFlight.sms === 1);

    const busy = await collect();
    const sms = { 'ordo.reactor': 'notification-dispatcher', 'ordo.reactor.partition': 'sms' };
    const email = { 'ordo.reactor': 'notification-dispatcher', 'ordo.reactor.partition': 'email' };
    expect({ inFlight: valueOf(busy, 'ordo.reactor.in_flight', sms), due: valueOf(busy, 'ordo.reactor.due', sms), ready: valueOf(busy, 'ordo.reactor.ready', sms) }).toEqual({ inFlight: 1, due: 1, ready: 0 });
    expect({ inFlight: valueOf(busy, 'ordo.reactor.in_flight', email), due: valueOf(busy, 'ordo.reactor.due', email), ready: valueOf(busy, 'ordo.reactor.ready', email) }).toEqual({ inFlight: 0, due: 0, ready: 0 });
    expect(valueOf(busy, 'ordo.reactor.state', { 'ordo.reactor': 'notification-dispatcher', 'ordo.reactor.state': 'running' })).toBe(1);
    expect(points(busy, NOTIFICATION_TELEMETRY.deadLetters)).toEqual([]);

    // The retry falls due, fails again and is dead-lettered; the hanging send completes.
    now += 2 * 3_600_000;
    dispatcher.reactor.wake(notificationStream('sms-failing'));
    releaseHanging();
    await dispatcher.waitUntilIdle();
    const done = await collect();
    expect(valueOf(done, NOTIFICATION_TELEMETRY.deadLetters, { 'ordo.notification.channel': 'sms' })).toBe(1);
    expect(valueOf(done, 'ordo.reactor.in_flight', sms)).toBe(0);
    expect(valueOf(done, 'ordo.reactor.due', sms)).toBe(0);

    const attempts = exporter.getFinishedSpans().filter((s) => s.name.startsWith('deliver '));
    const summary = attempts
      .map((s) => `${s.name} ${s.attributes['ordo.notification.key']} #${s.attributes['ordo.notification.attempt']} ${s.attributes['ordo.outcome']}`)
      .sort();
    expect(summary).toEqual(['deliver email email-1 #1 sent', 'deliver sms sms-failing #1 failed', 'deliver sms sms-failing #2 dead-lettered', 'deliver sms sms-hanging #1 sent']);
    for (const span of attempts) {
      expect(span.attributes['ordo.notification.channel']).toBe(span.name.slice('deliver '.length));
      expect(span.links.map((l) => l.context.spanId)).toEqual([checkout.spanContext().spanId]);
    }
    observer.stop();
    await dispatcher.stop();
  });
});

describe('fulfillment telemetry', () => {
  it('traces each provider call linked to the submission that asked for it, and gauges the submission awaiting its answer', async () => {
    const { meter, collect } = metering();
    const store = instrumentStore(new MemoryEventStore(), { tracer });
    const clock = () => new Date('2026-12-01T09:00:00.000Z');
    const orders = createOrderService({ store, clock });
    const provider = {
      async submit() {
        throw new Error('503 Service Unavailable: fulfillment queue is full');
      },
    };
    const fulfillment = createFulfillment({ store, provider, orders, clock, telemetry: { tracer, meter } });
    const observer = await observeReactors([fulfillment.reactor], { meter });
    await fulfillment.start();
    const { orderId } = await orders.placeOrder({
      idempotencyKey: 'cart-1',
      customer: { email: 'ada@example.com' },
      currency: 'EUR',
      lines: [{ sku: 'BOARD-GAME', name: 'Board game', quantity: 1, unitPrice: { amount: 3990, currency: 'EUR' } }],
    });
    const checkout = await tracer.startActiveSpan('POST /checkout', async (span) => {
      try {
        await orders.startSubmission(orderId, { actor: 'checkout' });
        return span;
      } finally {
        span.end();
      }
    });
    await fulfillment.settle();

    const calls = exporter.getFinishedSpans().filter((s) => s.name === FULFILLMENT_TELEMETRY.callSpan);
    expect(calls.map((s) => s.attributes)).toEqual([{ 'ordo.order.id': orderId, 'ordo.fulfillment.attempt': 1, 'ordo.fulfillment.resumed': false, 'ordo.outcome': 'refused' }]);
    // The link leads to the append that put the order in `submitting`, inside the checkout's trace.
    expect(calls[0]!.links.map((l) => l.context.traceId)).toEqual([checkout.spanContext().traceId]);

    const metrics = await collect();
    const provider_ = { 'ordo.reactor': 'fulfillment', 'ordo.reactor.partition': 'provider' };
    expect({ due: valueOf(metrics, 'ordo.reactor.due', provider_), inFlight: valueOf(metrics, 'ordo.reactor.in_flight', provider_) }).toEqual({ due: 1, inFlight: 0 });
    observer.stop();
    await fulfillment.stop();
  });
});

/** Polls `condition` on the event loop; fails after 5 s. */
async function until(condition: () => boolean) {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}
