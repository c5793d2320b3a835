import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MetricReader, MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCommandHandler,
  createProjectionRunner,
  decorateStore,
  instrumentProjection,
  instrumentStore,
  MemoryCheckpointStore,
  MemoryEventStore,
  observeProjectionRunners,
  type ObservableRunner,
  type EventStore,
  type Logger,
} from '@ordo/core';
import { counterDecider } from '../command/counter.js';

/** Collects on demand, for tests. */
class TestReader extends MetricReader {
  protected override async onShutdown() {}
  protected override async onForceFlush() {}
}

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test');
const reader = new TestReader();
const meter = new MeterProvider({ readers: [reader] }).getMeter('test');
const logged: { level: string; fields: Record<string, unknown>; message: string }[] = [];
const at = (level: string) => (fields: Record<string, unknown>, message: string) => void logged.push({ level, fields, message });
const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
const telemetry = { tracer, meter, logger };

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
afterAll(() => void context.disable());

/** A store on which another writer gets one event into `stream` just before our first append to it. */
function racedOnce(store: EventStore, stream: string): EventStore {
  let raced = false;
  return decorateStore(store, {
    async appendToStream(name, events, options) {
      if (name === stream && !raced) {
        raced = true;
        await store.appendToStream(name, [{ id: crypto.randomUUID(), type: 'Added', data: { by: 1 } }], { expectedVersion: 'any' });
      }
      return store.appendToStream(name, events, options);
    },
  });
}

/** The spans as an indented tree, children under their parent, with links shown. */
function spanTree(spans: readonly ReadableSpan[]): string {
  const byParent = new Map<string, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const names = new Map(spans.map((s) => [s.spanContext().spanId, s.name]));
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent && ids.has(parent) ? parent : 'root';
    byParent.set(key, [...(byParent.get(key) ?? []), span]);
  }
  const lines: string[] = [];
  const walk = (key: string, depth: number) => {
    for (const span of (byParent.get(key) ?? []).sort((a, b) => (a.startTime[0] - b.startTime[0]) || (a.startTime[1] - b.startTime[1]))) {
      const links = span.links.map((l) => `→ ${names.get(l.context.spanId) ?? '?'}`).join(', ');
      const a = span.attributes;
      const notes = [
        a['ordo.outcome'] !== undefined && `ordo.outcome=${a['ordo.outcome']}`,
        a['ordo.command.attempts'] !== undefined && `attempts=${a['ordo.command.attempts']} conflicts=${a['ordo.command.conflicts']}`,
        span.status.code === 2 && `status=ERROR (${span.status.message})`,
      ].filter(Boolean).join(' ');
      const line = `${'  '.repeat(depth)}${span.name}${links ? `  (links ${links})` : ''}`;
      lines.push(notes ? `${line.padEnd(36)} ${notes}` : line);
      walk(span.spanContext().spanId, depth + 1);
    }
  };
  walk('root', 0);
  return lines.join('\n');
}

function metric(metrics: ResourceMetrics, name: string) {
  const found = metrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  if (!found) throw new Error(`no metric ${name}`);
  return found.dataPoints as { attributes: Record<string, unknown>; value: unknown }[];
}

describe('telemetry: a command, the store and a projection, traced and measured', () => {
  it('records the span tree from the request to the projection effect, linked through event metadata, and the metrics', async () => {
    const raw = new MemoryEventStore();
    const store = instrumentStore(racedOnce(raw, 'counter-1'), telemetry);
    const handler = createCommandHandler({ store, decider: counterDecider(), telemetry, random: () => 0 });
    const mailer = instrumentProjection(
      {
        name: 'mailer',
        eventTypes: ['Added'],
        async handle(event) {
          await store.appendToStream(`mail-${event.id}`, [{ id: crypto.randomUUID(), type: 'MailRequested', data: {} }], { expectedVersion: 'no_stream' });
        },
      },
      telemetry,
    );
    const runner = createProjectionRunner({ store, checkpoints: new MemoryCheckpointStore(), projection: mailer });
    const observer = await observeProjectionRunners([runner], telemetry);

    const first = await tracer.startActiveSpan('POST /counter', async (span) => {
      try {
        return await handler.handle('counter-1', { type: 'Add', by: 2 }, { commandId: 'cmd-1' });
      } finally {
        span.end();
      }
    });
    expect(first.attempts).toBe(2);
    const again = await handler.handle('counter-1', { type: 'Add', by: 2 }, { commandId: 'cmd-1' });
    const noop = await handler.handle('counter-1', { type: 'Reach', value: 3 }, { commandId: 'cmd-2' });
    expect([again.duplicate, noop.noop]).toEqual([true, true]);
    const lagBefore = metric((await reader.collect()).resourceMetrics, 'ordo.projection.lag.events');
    expect(lagBefore[0]).toMatchObject({ attributes: { 'ordo.projection': 'mailer' }, value: 2 });
    await runner.start();
    await runner.waitUntilCaughtUp();
    // The mails it appended lie past that head: wait until it has read past them too.
    await runner.waitUntilCaughtUp();
    await runner.stop();

    const spans = exporter.getFinishedSpans();
    const tree = spanTree(spans.filter((s) => s.name !== 'headPosition' && s.name !== 'readAll'));
    console.log(tree);
    const command = spans.find((s) => s.name === 'handle Add' && s.attributes['ordo.outcome'] === 'applied')!;
    expect(command.attributes).toMatchObject({
      'ordo.stream': 'counter-1', 'ordo.stream.category': 'counter', 'ordo.command.type': 'Add',
      'ordo.command.attempts': 2, 'ordo.command.conflicts': 1, 'ordo.outcome': 'applied',
    });
    expect(command.parentSpanContext?.spanId).toBe(spans.find((s) => s.name === 'POST /counter')!.spanContext().spanId);
    const appends = spans.filter((s) => s.name === 'appendToStream counter');
    expect(appends.map((s) => s.parentSpanContext?.spanId)).toEqual([command.spanContext().spanId, command.spanContext().spanId]);
    expect(appends[0]!.attributes).toMatchObject({ 'db.system': 'memory', 'db.system.name': 'memory', 'db.operation.name': 'appendToStream', 'db.collection.name': 'counter', 'ordo.event.count': 1 });
    expect(appends[0]!.status.code).toBe(2); // the conflict
    expect(spans.filter((s) => s.name === 'handle Add' || s.name === 'handle Reach').map((s) => s.attributes['ordo.outcome']).sort()).toEqual(['applied', 'duplicate', 'noop']);

    // The event records the command span; the projection's span links to it, and its append is its child.
    const stored = (await raw.readStream('counter-1')).events.at(-1)!;
    expect(stored.metadata.traceparent).toBe(`00-${command.spanContext().traceId}-${command.spanContext().spanId}-01`);
    const process = spans.filter((s) => s.name === 'process mailer');
    const linked = process.find((s) => s.links.some((l) => l.context.spanId === command.spanContext().spanId))!;
    expect(linked.attributes).toMatchObject({
      'messaging.system': 'ordo', 'messaging.operation.type': 'process', 'messaging.consumer.group.name': 'mailer',
      'messaging.batch.message_count': 1, 'ordo.position.from': Number(stored.globalPosition), 'ordo.position.to': Number(stored.globalPosition),
    });
    expect(spans.filter((s) => s.name === 'appendToStream mail').map((s) => s.parentSpanContext?.spanId)).toContain(linked.spanContext().spanId);

    const metrics = (await reader.collect()).resourceMetrics;
    expect(metric(metrics, 'ordo.append.conflicts')).toEqual([expect.objectContaining({ attributes: { 'ordo.stream.category': 'counter' }, value: 1 })]);
    expect(metric(metrics, 'ordo.command.retries')).toEqual([expect.objectContaining({ attributes: { 'ordo.stream.category': 'counter' }, value: 1 })]);
    const appendLatency = metric(metrics, 'db.client.operation.duration').find((p) => p.attributes['db.operation.name'] === 'appendToStream')!;
    expect(appendLatency.attributes['db.system.name']).toBe('memory');
    expect((appendLatency.value as { count: number }).count).toBe(4); // the conflict, the command, two mails
    expect(metric(metrics, 'ordo.projection.events').find((p) => p.attributes['ordo.projection'] === 'mailer')!.value).toBe(2);
    expect(metric(metrics, 'ordo.projection.lag.events')[0]!.value).toBe(0);
    expect(metric(metrics, 'ordo.projection.state')[0]!.attributes).toMatchObject({ 'ordo.projection.state': 'stopped' });
    observer.stop();

    expect(logged.filter((l) => l.level === 'debug').map((l) => l.message)).toEqual([
      'append conflict: wrong expected version',
      'command retried after conflicts',
    ]);
  });

  it('reads a runner through its status() function', async () => {
    const status = { name: 'numbers', state: 'retrying', position: 3n, lag: { events: 7n, seconds: 1.5 }, lastError: undefined, consecutiveFailures: 2, since: new Date() };
    const runner = { name: 'numbers', lag: async () => 99n, status: () => status } as unknown as ObservableRunner;
    const observer = await observeProjectionRunners([runner], telemetry);
    const metrics = (await reader.collect()).resourceMetrics;
    const of = (name: string) => metric(metrics, name).find((p) => p.attributes['ordo.projection'] === 'numbers');
    expect(of('ordo.projection.lag.events')!.value).toBe(7);
    expect(of('ordo.projection.lag.seconds')!.value).toBe(1.5);
    expect(of('ordo.projection.state')!.attributes['ordo.projection.state']).toBe('retrying');
    observer.stop();
  });

  it('without a tracer provider registered, instrumented parts work and write no trace context', async () => {
    const raw = new MemoryEventStore();
    const store = instrumentStore(raw);
    const handler = createCommandHandler({ store, decider: counterDecider(), telemetry: {} });
    expect((await handler.handle('counter-9', { type: 'Add', by: 1 }, { commandId: 'c' })).state).toBe(1);
    expect((await raw.readStream('counter-9')).events[0]!.metadata.traceparent).toBeUndefined();
  });
});
