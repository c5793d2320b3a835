import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, deliverWebhook, paymentPayload, startTestServer } from './test-support.js';
import { signWebhook } from './webhook-signature.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let alice: Client;
let anonymous: Client;
let orderId: string;

beforeAll(async () => {
  server = await startTestServer();
  alice = await new Client(server.url).login('alice');
  anonymous = new Client(server.url);
  orderId = (await anonymous.placeOrder('security-order')).body.order.id;
});
afterAll(() => server.stop());

async function settledHead(): Promise<bigint> {
  await server.runtime.numbers.runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
  await server.runtime.notifications.waitUntilIdle({ timeoutMs: 10_000 });
  return server.runtime.store.headPosition();
}

/** Runs `attempt`, expects it refused with `status`, and checks that nothing was written. */
async function refusedWithoutWriting(status: number, attempt: () => Promise<{ status: number; headers: Headers; body: any }>) {
  const head = await settledHead();
  const res = await attempt();
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await settledHead()).toBe(head);
  return res;
}

describe('admin routes need a session', () => {
  it('answers 401 without one, for reads, changes and live events, and writes nothing', async () => {
    for (const path of ['/orders', `/orders/${orderId}`, `/orders/${orderId}/history`, '/lifecycle']) {
      expect((await anonymous.send('GET', path)).status).toBe(401);
    }
    await refusedWithoutWriting(401, () => anonymous.send('POST', `/orders/${orderId}/status`, { body: { to: 'confirmed' } }));
  });

  it('refuses a forged or tampered cookie and a wrong password', async () => {
    const forged = new Client(server.url);
    const payload = Buffer.from(JSON.stringify({ admin: 'alice', csrf: 'x', expires: Date.now() + 60_000 })).toString('base64url');
    forged.cookie = `ordo_session=${payload}.${'A'.repeat(43)}`;
    forged.csrf = 'x';
    await refusedWithoutWriting(401, () => forged.send('POST', `/orders/${orderId}/status`, { body: { to: 'confirmed' } }));
    const tampered = new Client(server.url);
    const [, signature] = alice.cookie!.split('.');
    const asBob = Buffer.from(JSON.stringify({ admin: 'bob', csrf: alice.csrf, expires: Date.now() + 60_000 })).toString('base64url');
    tampered.cookie = `ordo_session=${asBob}.${signature}`;
    tampered.csrf = alice.csrf;
    expect((await tampered.send('GET', '/orders')).status).toBe(401);
    expect((await new Client(server.url).send('POST', '/login', { body: { username: 'alice', password: 'guess-guess' } })).status).toBe(401);
  });

  it('records the session admin as the actor: an actor field is refused, an actor header ignored', async () => {
    await refusedWithoutWriting(400, () =>
      alice.send('POST', `/orders/${orderId}/status`, { body: { to: 'confirmed', actor: 'admin:bob' } }),
    );
    const res = await alice.send('POST', `/orders/${orderId}/status`, {
      body: { to: 'confirmed' },
      headers: { 'x-actor': 'admin:bob', 'x-forwarded-user': 'bob', 'x-user': 'bob' },
    });
    expect(res.status).toBe(200);
    const history = (await alice.send('GET', `/orders/${orderId}/history`)).body.history;
    expect(history.at(-1)).toMatchObject({ type: 'OrderStatusChanged', actor: 'admin:alice' });
    expect(history.some((h: { actor?: string }) => h.actor?.includes('bob'))).toBe(false);
  });
});

describe('CSRF', () => {
  it('refuses a cross-site form post even when the browser sent the cookie', async () => {
    const crossSite = new Client(server.url);
    crossSite.cookie = alice.cookie;
    await refusedWithoutWriting(403, () =>
      crossSite.send('POST', `/orders/${orderId}/status`, {
        raw: 'to=cancelled',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      }),
    );
    // A same-site request without the token is refused too; and the token does not help another origin.
    await refusedWithoutWriting(403, () => crossSite.send('POST', `/orders/${orderId}/status`, { body: { to: 'cancelled' } }));
    await refusedWithoutWriting(403, () =>
      alice.send('POST', `/orders/${orderId}/status`, { body: { to: 'cancelled' }, headers: { origin: 'https://evil.example' } }),
    );
    await refusedWithoutWriting(403, () =>
      alice.send('POST', `/orders/${orderId}/status`, { body: { to: 'cancelled' }, headers: { 'x-csrf-token': 'not-the-token' } }),
    );
  });

  it('sets the session cookie HttpOnly and SameSite=Strict', async () => {
    const res = await new Client(server.url).send('POST', '/login', { body: { username: 'bob', password: 'bob-test-password' } });
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    const crossLogin = await new Client(server.url).send('POST', '/login', {
      body: { username: 'bob', password: 'bob-test-password' },
      headers: { origin: 'https://evil.example' },
    });
    expect(crossLogin.status).toBe(403);
  });
});

describe('webhooks are verified', () => {
  it('refuses a missing, malformed, wrong, stale or foreign signature with 401, writing nothing', async () => {
    const payload = paymentPayload('pay-unsigned');
    const raw = JSON.stringify(payload);
    const signatures = [
      undefined,
      'v1=abc',
      signWebhook('another-secret', raw),
      signWebhook('test-webhook-secret-0123456789', raw, new Date(Date.now() - 3_600_000)),
      signWebhook('test-webhook-secret-0123456789', JSON.stringify(paymentPayload('pay-other'))),
    ];
    for (const signature of signatures) {
      const res = await refusedWithoutWriting(401, () =>
        signature === undefined
          ? fetch(`${server.url}/webhooks/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() }))
          : deliverWebhook(server.url, '/webhooks/payments', payload, { signature }),
      );
      expect(res.body.type).toBe('urn:ordo:problem:bad-signature');
    }
    await refusedWithoutWriting(401, () => deliverWebhook(server.url, '/webhooks/fulfillment', { orderId, event: 'completed' }, { secret: 'wrong' }));
  });

  it('a payment delivered five times places one order with one payment and one number', async () => {
    const payload = paymentPayload('pay-5x');
    const replies = await Promise.all(Array.from({ length: 5 }, () => deliverWebhook(server.url, '/webhooks/payments', payload)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const ids = new Set(replies.map((r) => r.body.orderId));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    await server.runtime.numbers.waitForNumber(id);
    await settledHead();
    const history = (await alice.send('GET', `/orders/${id}/history`)).body.history as { type: string; actor: string }[];
    // The number is assigned by a projection, so it may land before or after the payment.
    expect(history[0]!.type).toBe('OrderPlaced');
    expect(history.map((h) => h.type).sort()).toEqual(['OrderNumberAssigned', 'OrderPlaced', 'PaymentRecorded']);
    expect(history[0]!.actor).toBe('webhook:payments');
    const again = await deliverWebhook(server.url, '/webhooks/payments', payload);
    expect(again.body).toEqual({ orderId: id, replayed: true });
  });

  it('refuses unknown fields and bad JSON in a signed webhook', async () => {
    await refusedWithoutWriting(400, () => deliverWebhook(server.url, '/webhooks/payments', { ...paymentPayload('pay-x'), actor: 'admin:alice' }));
    await refusedWithoutWriting(400, () =>
      fetch(`${server.url}/webhooks/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ordo-signature': signWebhook('test-webhook-secret-0123456789', '{oops') },
        body: '{oops',
      }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() })),
    );
  });

  it('fulfillment reports move the order, idempotently', async () => {
    const id = (await anonymous.placeOrder('fulfil-me')).body.order.id as string;
    expect((await alice.send('POST', `/orders/${id}/status`, { body: { to: 'submitting' } })).status).toBe(200);
    const accepted = { orderId: id, event: 'accepted', providerRequestId: 'prov-1' };
    expect((await deliverWebhook(server.url, '/webhooks/fulfillment', accepted)).body).toMatchObject({ status: 'submitted', applied: true });
    expect((await deliverWebhook(server.url, '/webhooks/fulfillment', accepted)).body).toMatchObject({ status: 'submitted', applied: false });
    expect((await deliverWebhook(server.url, '/webhooks/fulfillment', { orderId: id, event: 'completed' })).body.status).toBe('completed');
    const late = await deliverWebhook(server.url, '/webhooks/fulfillment', { orderId: id, event: 'processing' });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ from: 'completed', to: 'processing', allowed: ['refunded'] });
  });
});

describe('hostile headers', () => {
  it('does not let a client choose its identity, origin or order through headers', async () => {
    const head = await settledHead();
    const res = await anonymous.send('POST', `/orders/${orderId}/status`, {
      body: { to: 'cancelled' },
      headers: { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': 'localhost', 'x-actor': 'admin:alice', authorization: 'Bearer alice' },
    });
    expect(res.status).toBe(401);
    expect(await settledHead()).toBe(head);
  });

  it('answers absurd headers with 4xx problems and no details of the server', async () => {
    const bad = [
      await alice.send('GET', `/orders/${orderId}/events`, { headers: { 'last-event-id': '99999999999999999999999' } }),
      await alice.send('POST', `/orders/${orderId}/status`, { body: { to: 'confirmed' }, headers: { 'if-match': '"' + '9'.repeat(40) + '"' } }),
      await anonymous.send('POST', '/orders', { body: {}, headers: { 'idempotency-key': '<img src=x onerror=alert(1)>' } }),
    ];
    for (const res of bad) {
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(page.headers.get('x-powered-by')).toBeNull();
  });
});
