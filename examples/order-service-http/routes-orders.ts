/**
 * The order API. Placing is public (a checkout or mobile client) and idempotent by
 * `Idempotency-Key`; everything else is for admins. Reads carry the order's version as `ETag`;
 * a status change takes it back as `If-Match`.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createOrderDecider, type Order, type OrderEvent } from '@ordo/orders';
import { sendJson } from './app.js';
import { actorOf, type Sessions } from './auth.js';
import { adminOnly, sessionOf } from './admin-guard.js';
import { etagOf, expectedVersionOf, idempotencyKeyOf } from './preconditions.js';
import { HttpProblem } from './problem.js';
import { changeStatusBody, parseBody, placeOrderBody } from './request-schemas.js';
import type { OrderRuntime } from './runtime.js';

/** The actor recorded on orders placed through the public API. */
export const CHECKOUT_ACTOR = 'checkout:http';

/** Registers the order routes. */
export function registerOrderRoutes(app: FastifyInstance, runtime: OrderRuntime, sessions: Sessions): void {
  const { orders, lifecycle } = runtime;
  const view = (order: Order) => orderView(runtime, order);

  app.post('/orders', async (request, reply) => {
    const key = idempotencyKeyOf(request.headers['idempotency-key'], { required: true })!;
    const body = parseBody(placeOrderBody, request.body, 'order');
    const placed = await orders.placeOrder(
      { ...(body as object), idempotencyKey: `checkout:${key}` } as Parameters<typeof orders.placeOrder>[0],
      { actor: CHECKOUT_ACTOR, correlationId: request.id },
    );
    const replayed = !placed.applied;
    reply.header('location', `/orders/${placed.orderId}`).header('idempotent-replayed', String(replayed));
    if (placed.version !== null) reply.header('etag', etagOf(placed.version));
    return sendJson(reply, replayed ? 200 : 201, { order: view(placed.order), replayed });
  });

  app.register(async (admin) => {
    admin.addHook('onRequest', adminOnly(sessions));

    admin.get('/lifecycle', async () => ({
      statuses: lifecycle.statuses,
      initial: lifecycle.initial,
      terminal: lifecycle.terminal,
      transitions: Object.fromEntries(lifecycle.statuses.map((s) => [s, lifecycle.allowed(s)])),
    }));

    admin.get('/orders', async (_request, reply) => sendJson(reply, 200, { orders: runtime.board.list() }));

    admin.get<{ Params: { id: string } }>('/orders/:id', async (request, reply) => {
      const { order, version } = await readOrder(runtime, request.params.id);
      reply.header('etag', etagOf(version));
      return sendJson(reply, 200, { order: view(order), version, notifications: runtime.board.get(order.id)?.notifications ?? [] });
    });

    admin.get<{ Params: { number: string } }>('/orders/by-number/:number', async (request, reply) => {
      const id = await runtime.numbers.findOrderByNumber(request.params.number);
      if (!id) throw new HttpProblem(404, 'not-found', 'No such order', `No order has the number ${request.params.number}.`);
      const { order, version } = await readOrder(runtime, id);
      reply.header('etag', etagOf(version)).header('content-location', `/orders/${id}`);
      return sendJson(reply, 200, { order: view(order), version });
    });

    admin.get<{ Params: { id: string } }>('/orders/:id/history', async (request, reply) =>
      sendJson(reply, 200, { history: await orders.history(request.params.id) }),
    );

    admin.post<{ Params: { id: string } }>('/orders/:id/status', (request, reply) => changeStatus(runtime, request, reply));
  });
}

/**
 * `POST /orders/:id/status`: the session's admin is the actor; `If-Match` is the expected version;
 * `Idempotency-Key` (per admin) is the command id, so one click's repeats are one command.
 */
async function changeStatus(runtime: OrderRuntime, request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) {
  const actor = actorOf(sessionOf(request));
  const expectedVersion = expectedVersionOf(request.headers['if-match']);
  const key = idempotencyKeyOf(request.headers['idempotency-key'], { required: false });
  const body = parseBody(changeStatusBody, request.body, 'status change');
  const change = await runtime.orders.changeStatus(request.params.id, body.to, {
    actor,
    correlationId: request.id,
    ...(body.reason !== undefined && { reason: body.reason }),
    ...(expectedVersion !== undefined && { expectedVersion }),
    // One click's retries (and a double click, which sends one key) are one command.
    ...(key !== undefined && { commandId: `status:${createHash('sha256').update(`${actor}\n${key}`).digest('hex')}` }),
  });
  if (change.version !== null) reply.header('etag', etagOf(change.version));
  const message = change.noop
    ? `The order is already ${change.order.status}; nothing changed.`
    : change.duplicate
      ? 'This request was already applied.'
      : `The order is now ${change.order.status}.`;
  return sendJson(reply, 200, {
    order: orderView(runtime, change.order),
    version: change.version,
    applied: change.applied,
    noop: change.noop,
    duplicate: change.duplicate,
    message,
  });
}

/** An order as the API shows it: with the statuses it may move to next. */
function orderView(runtime: OrderRuntime, order: Order) {
  return { ...order, allowed: runtime.lifecycle.allowed(order.status) };
}

/** An order and its version from one read of its stream. */
async function readOrder(runtime: OrderRuntime, orderId: string): Promise<{ order: Order; version: bigint }> {
  const history = await runtime.orders.history(orderId);
  const decider = createOrderDecider(runtime.lifecycle);
  const order = history.reduce((state, entry) => decider.evolve(state, { type: entry.type, data: entry.data } as OrderEvent), decider.initialState);
  return { order: order!, version: history[history.length - 1]!.version };
}
