/**
 * Webhooks from the payment and fulfillment providers. The signature is checked on the raw body
 * before anything is parsed; an unsigned or mis-signed call gets 401 and writes nothing. Both are
 * safe to deliver many times: the payment's reference is the order's idempotency key and the
 * payment's id, and fulfillment events are status changes, no-ops when already applied.
 */
import type { FastifyInstance } from 'fastify';
import type { PlaceOrderInput } from '@ordo/orders';
import { sendJson } from './app.js';
import { HttpProblem } from './problem.js';
import { fulfillmentWebhookBody, parseBody, paymentWebhookBody } from './request-schemas.js';
import type { OrderRuntime } from './runtime.js';
import { SIGNATURE_HEADER, verifyWebhook } from './webhook-signature.js';

/** Registers `POST /webhooks/payments` and `POST /webhooks/fulfillment`. */
export function registerWebhooks(app: FastifyInstance, runtime: OrderRuntime, secret: string): void {
  const { orders } = runtime;
  app.register(async (hooks) => {
    // The signature covers the exact bytes sent: keep them as a string, parse after verifying.
    hooks.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    hooks.addHook('preHandler', async (request) => {
      const raw = typeof request.body === 'string' ? request.body : '';
      verifyWebhook(secret, raw, request.headers[SIGNATURE_HEADER]);
      try {
        request.body = JSON.parse(raw);
      } catch {
        throw new HttpProblem(400, 'bad-request', 'The request could not be read', 'The body is not valid JSON.');
      }
    });

    hooks.post('/webhooks/payments', async (request, reply) => {
      const body = parseBody(paymentWebhookBody, request.body, 'payment webhook');
      const actor = 'webhook:payments';
      const placed = await orders.placeOrder(
        { ...(body.order as object), idempotencyKey: `payment:${body.reference}` } as PlaceOrderInput,
        { actor, correlationId: body.reference },
      );
      const paid = await orders.recordPayment(
        placed.orderId,
        { paymentId: body.reference, amount: body.amount as PlaceOrderInput['lines'][number]['unitPrice'] },
        { actor, commandId: `payment:${body.reference}`, correlationId: body.reference },
      );
      return sendJson(reply, 200, { orderId: placed.orderId, replayed: !placed.applied && !paid.applied });
    });

    hooks.post('/webhooks/fulfillment', async (request, reply) => {
      const body = parseBody(fulfillmentWebhookBody, request.body, 'fulfillment webhook');
      const options = { actor: 'webhook:fulfillment', ...(body.reason !== undefined && { reason: body.reason }) };
      let change;
      if (body.event === 'accepted') {
        if (body.providerRequestId === undefined) {
          throw new HttpProblem(400, 'validation', 'The request is invalid', 'providerRequestId is required with "accepted"', {
            errors: [{ path: 'providerRequestId', message: 'is required with "accepted"' }],
          });
        }
        change = await orders.recordProviderRequest(body.orderId, body.providerRequestId, options);
      } else if (body.event === 'processing') change = await orders.markProcessing(body.orderId, options);
      else if (body.event === 'completed') change = await orders.completeFulfillment(body.orderId, options);
      else change = await orders.failFulfillment(body.orderId, { ...options, reason: body.reason ?? 'reported failed by the provider' });
      return sendJson(reply, 200, { orderId: body.orderId, status: change.order.status, applied: change.applied });
    });
  });
}
