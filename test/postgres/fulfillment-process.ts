/**
 * A fulfillment service as its own process, for the kill test (fulfillment-kill.test.ts): the order
 * service and the fulfillment process manager on PostgreSQL, calling a provider over HTTP. The
 * parent drives it through IPC messages (`place`, `tick`, `update`) and kills it with SIGKILL.
 * Run with `node --import tsx`; settings come from the environment.
 */
import pg from 'pg';
import { createFulfillment, createOrderService, type FulfillmentProvider, type ProviderUpdate } from '@ordo/orders';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';

/** What the parent asks for. */
export type ParentRequest =
  | { type: 'place'; from: number; to: number }
  | { type: 'tick'; aheadMs: number }
  | { type: 'update'; orderId: string; update: ProviderUpdate };

/** A message from the parent; each is answered with `{ id, result }` or `{ id, error }`. */
export type ParentMessage = ParentRequest & { id: number };

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const providerUrl = env('FULFILLMENT_PROVIDER_URL');

/** The provider's HTTP API: one request per idempotency key; a status query by key. */
const provider: FulfillmentProvider = {
  async submit(order, { idempotencyKey, attempt }) {
    const body = JSON.stringify({ orderId: order.id, email: order.customer.email, idempotencyKey, attempt });
    const response = await fetch(`${providerUrl}/submit`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
    return (await response.json()) as { requestId: string };
  },
  async lookup(idempotencyKey) {
    const response = await fetch(`${providerUrl}/lookup?key=${encodeURIComponent(idempotencyKey)}`);
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
    return (await response.json()) as { requestId: string };
  },
};

const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 8 });
pool.on('error', () => undefined);
const schema = env('ORDO_SCHEMA');
const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
await store.migrate();
const orders = createOrderService({ store });
// A timeout far beyond the test: only a resume (never a timeout) can move an interrupted submission on.
const fulfillment = createFulfillment({ store, provider, orders, checkpoints: new PostgresCheckpointStore({ pool, schema }), submissionTimeoutMs: 600_000, maxAttempts: 2 });
await fulfillment.start();

async function handle(message: ParentMessage): Promise<unknown> {
  switch (message.type) {
    case 'place': {
      const ids: string[] = [];
      for (let i = message.from; i < message.to; i++) {
        const { orderId } = await orders.placeOrder({
          idempotencyKey: `cart-${i}`,
          customer: { email: `c${i}@example.com` },
          currency: 'EUR',
          lines: [{ sku: 'BOARD-GAME', name: 'Board game', quantity: 1, unitPrice: { amount: 3990, currency: 'EUR' } }],
        });
        await orders.startSubmission(orderId, { actor: 'checkout', commandId: `submit:${orderId}` });
        ids.push(orderId);
      }
      return ids;
    }
    case 'tick':
      return fulfillment.tick(new Date(Date.now() + message.aheadMs));
    case 'update':
      return fulfillment.providerUpdate(message.orderId, message.update, { deliveryId: `${message.update.state}:${message.orderId}` });
  }
}

process.on('message', (message: ParentMessage) => {
  handle(message).then(
    (result) => process.send!({ id: message.id, result }),
    (error: unknown) => process.send!({ id: message.id, error: String(error) }),
  );
});
process.send!({ ready: true });
