/**
 * Live updates as Server-Sent Events. Each connection is a subscription to the store's global log,
 * filtered to what the page watches; each message's `id` is the event's global position, so a
 * reconnecting browser (which sends `Last-Event-ID`) resumes exactly where it stopped. Each message
 * carries the order as the admin board sees it once it has applied that event.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type LogFilter, type RecordedEvent, START } from '@ordo/core';
import { orderStream } from '@ordo/orders';
import type { Sessions } from './auth.js';
import { adminOnly } from './admin-guard.js';
import { HttpProblem, toJson } from './problem.js';
import type { OrderRuntime } from './runtime.js';

/** The open event streams, so that shutdown can end them. */
export interface EventStreams {
  readonly open: number;
  /** Ends every stream (the browser reconnects to another instance, resuming by `Last-Event-ID`). */
  closeAll(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEARTBEAT_MS = 15_000;

/** Registers `GET /orders/:id/events` (one order and its notifications) and `GET /events` (every order). */
export function registerOrderEvents(app: FastifyInstance, runtime: OrderRuntime, sessions: Sessions): EventStreams {
  const open = new Set<() => Promise<void>>();

  function stream(request: FastifyRequest, reply: FastifyReply, filter: LogFilter, orderIdOf: (event: RecordedEvent) => string | undefined) {
    const after = resumeFrom(request);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    let ended = false;
    const subscription = runtime.store.subscribeToAll({
      after,
      filter,
      async onEvent(event) {
        // Let the board apply the event first, so the message shows its effect.
        await runtime.board.runner.waitFor(event.globalPosition, { timeoutMs: 10_000 }).catch(() => undefined);
        if (ended) return;
        const orderId = orderIdOf(event);
        const message = { type: event.type, stream: event.streamName, version: event.streamVersion, position: event.globalPosition, order: orderId ? runtime.board.get(orderId) : undefined };
        res.write(`id: ${event.globalPosition}\nevent: order\ndata: ${toJson(message)}\n\n`);
      },
      onError: () => void end(),
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    async function end() {
      if (ended) return;
      ended = true;
      open.delete(end);
      clearInterval(heartbeat);
      await subscription.stop().catch(() => undefined);
      res.end();
    }
    open.add(end);
    request.raw.on('close', () => void end());
  }

  app.register(async (admin) => {
    admin.addHook('onRequest', adminOnly(sessions));
    admin.get<{ Params: { id: string } }>('/orders/:id/events', async (request, reply) => {
      const { id } = request.params;
      if (!UUID.test(id)) throw new HttpProblem(404, 'not-found', 'No such order', 'There is no order with this id.');
      const stream_ = orderStream(id);
      stream(request, reply, { streamPrefixes: [stream_, `notification-${stream_}:`] }, () => id);
    });
    admin.get('/events', async (request, reply) => {
      stream(request, reply, { eventTypes: ['OrderPlaced', 'OrderStatusChanged', 'OrderNumberAssigned'] }, (event) => (event.data as { orderId?: string }).orderId);
    });
  });

  return {
    get open() {
      return open.size;
    },
    async closeAll() {
      await Promise.all([...open].map((end) => end()));
    },
  };
}

/** The position after which to deliver: `Last-Event-ID` (a reconnect), or `?after=` (a first connect). */
function resumeFrom(request: FastifyRequest): bigint {
  const header = request.headers['last-event-id'];
  const query = (request.query as Record<string, unknown> | undefined)?.after;
  const value = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
  if (value === undefined || value === '') return START;
  if (!/^\d{1,19}$/.test(value)) {
    throw new HttpProblem(400, 'bad-last-event-id', 'Bad Last-Event-ID', 'Last-Event-ID must be a position from an earlier message.');
  }
  return BigInt(value);
}
