import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryEventStore, type NewEvent, type AppendOptions } from '@ordo/core';
import { Client, eventually, orderBody, startTestServer } from './test-support.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let admin: Client;
let anonymous: Client;

beforeAll(async () => {
  server = await startTestServer();
  admin = await new Client(server.url).login('alice');
  anonymous = new Client(server.url);
});
afterAll(() => server.stop());

/** The log head once the projections have reacted to everything so far. */
async function settledHead(): Promise<bigint> {
  await server.runtime.numbers.runner.waitUntilCaughtUp({ timeoutMs: 10_000 });
  await server.runtime.notifications.waitUntilIdle({ timeoutMs: 10_000 });
  return server.runtime.store.headPosition();
}

let keys = 0;
async function placed(): Promise<string> {
  const res = await anonymous.placeOrder(`order-${++keys}`);
  expect(res.status).toBe(201);
  return res.body.order.id as string;
}

describe('POST /orders', () => {
  it('places once per Idempotency-Key: a repeat returns the original order, marked as a replay', async () => {
    const first = await anonymous.placeOrder('cart-1');
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBe('false');
    expect(first.headers.get('location')).toBe(`/orders/${first.body.order.id}`);
    const again = await anonymous.placeOrder('cart-1');
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toMatchObject({ replayed: true, order: { id: first.body.order.id, placedAt: first.body.order.placedAt } });
    const history = await admin.send('GET', `/orders/${first.body.order.id}/history`);
    expect(history.body.history.filter((h: { type: string }) => h.type === 'OrderPlaced')).toHaveLength(1);
  });

  it('answers 422 to the same key with another body, and writes nothing', async () => {
    await anonymous.placeOrder('cart-2');
    const head = await settledHead();
    const res = await anonymous.placeOrder('cart-2', orderBody({ currency: 'USD', lines: [{ sku: 'X', name: 'X', quantity: 1, unitPrice: { amount: 1, currency: 'USD' } }] }));
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: 'urn:ordo:problem:idempotency-conflict', status: 422 });
    expect(await settledHead()).toBe(head);
  });

  it('requires a sane Idempotency-Key', async () => {
    const head = await settledHead();
    expect((await anonymous.send('POST', '/orders', { body: orderBody() })).status).toBe(400);
    for (const key of ['has space', 'x'.repeat(201), 'na\u00efve', '']) {
      const res = await anonymous.send('POST', '/orders', { body: orderBody(), headers: { 'idempotency-key': key } });
      expect(res.status).toBe(400);
      expect(res.body.type).toMatch(/idempotency-key/);
    }
    expect(await settledHead()).toBe(head);
  });

  it('refuses invalid values with 400 naming every failing field', async () => {
    const head = await settledHead();
    const res = await anonymous.placeOrder('bad-values', orderBody({
      customer: { email: 'not-an-email' },
      lines: [{ sku: 'A', name: 'A', quantity: -1, unitPrice: { amount: 1.5, currency: 'EUR' } }],
    }));
    expect(res.status).toBe(400);
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['customer.email', 'lines.0.quantity', 'lines.0.unitPrice.amount']));
    expect(await settledHead()).toBe(head);
  });

  it('refuses unknown fields, at the top and nested, and writes nothing', async () => {
    const head = await settledHead();
    const top = await anonymous.placeOrder('unknown-1', { ...orderBody(), actor: 'admin:mallory', status: 'delivered' });
    expect(top.status).toBe(400);
    expect(top.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['actor', 'status']);
    const nested = await anonymous.placeOrder('unknown-2', orderBody({ customer: { email: 'a@example.com', role: 'admin' } }));
    expect(nested.status).toBe(400);
    expect(nested.body.errors).toEqual([{ path: 'customer.role', message: 'is not a field of this request' }]);
    expect(await settledHead()).toBe(head);
  });

  it('answers malformed JSON, wrong media types, empty and oversized bodies with problems', async () => {
    const head = await settledHead();
    const key = { 'idempotency-key': 'malformed' };
    const malformed = await anonymous.send('POST', '/orders', { raw: '{"customer":', headers: key });
    expect(malformed.status).toBe(400);
    const poisoned = await anonymous.send('POST', '/orders', { raw: '{"__proto__":{"admin":true}}', headers: key });
    expect(poisoned.status).toBe(400);
    const text = await anonymous.send('POST', '/orders', { raw: 'customer=x', headers: { ...key, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(text.status).toBe(415);
    const empty = await anonymous.send('POST', '/orders', { headers: { ...key, 'content-type': 'application/json' } });
    expect(empty.status).toBe(400);
    const huge = await anonymous.send('POST', '/orders', { raw: JSON.stringify(orderBody({ note: 'x'.repeat(100_000) })), headers: key });
    expect(huge.status).toBe(413);
    for (const res of [malformed, poisoned, text, empty, huge]) {
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules|\.ts:\d+/); // no stack traces
    }
    expect(await settledHead()).toBe(head);
  });
});

describe('reading orders', () => {
  it('GET /orders/:id carries the stream version as ETag; by-number finds the same order', async () => {
    const id = await placed();
    const number = await server.runtime.numbers.waitForNumber(id);
    const res = await admin.send('GET', `/orders/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${res.body.version}"`);
    expect(res.body.order).toMatchObject({ id, number, status: 'pending', allowed: ['confirmed', 'submitting', 'cancelled'] });
    const byNumber = await admin.send('GET', `/orders/by-number/${number}`);
    expect(byNumber.body.order.id).toBe(id);
    expect(byNumber.headers.get('etag')).toBe(res.headers.get('etag'));
    expect((await admin.send('GET', '/orders/by-number/ORD-19990101-0001')).status).toBe(404);
  });

  it('GET /orders/:id/history is the audit trail, with the acting admin', async () => {
    const id = await placed();
    await admin.send('POST', `/orders/${id}/status`, { body: { to: 'confirmed', reason: 'called the customer' } });
    const res = await admin.send('GET', `/orders/${id}/history`);
    const changed = res.body.history.find((h: { type: string }) => h.type === 'OrderStatusChanged');
    expect(changed).toMatchObject({ actor: 'admin:alice', reason: 'called the customer', data: { from: 'pending', to: 'confirmed' } });
    expect(res.body.history[0]).toMatchObject({ type: 'OrderPlaced', actor: 'checkout:http' });
  });

  it('answers 404 for an unknown order and 400 for an id that is not one', async () => {
    expect((await admin.send('GET', '/orders/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const bad = await admin.send('GET', '/orders/not-an-id');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('orderId');
    const long = await admin.send('GET', `/orders/${'x'.repeat(300)}`);
    expect(long.status).toBe(414);
    expect(long.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('GET /orders lists orders with numbers and statuses', async () => {
    const id = await placed();
    const number = await server.runtime.numbers.waitForNumber(id);
    const listed = await eventually(async () => (await admin.send('GET', '/orders')).body.orders.find((o: { id: string; number?: string }) => o.id === id && o.number));
    expect(listed).toMatchObject({ number, status: 'pending' });
  });
});

describe('POST /orders/:id/status', () => {
  const change = (id: string, to: string, headers: Record<string, string> = {}) => admin.send('POST', `/orders/${id}/status`, { body: { to }, headers });

  it('with the current If-Match: changes the status and returns the new ETag', async () => {
    const id = await placed();
    const read = await admin.send('GET', `/orders/${id}`);
    const res = await change(id, 'confirmed', { 'if-match': read.headers.get('etag')! });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ applied: true, order: { status: 'confirmed' } });
    expect(res.headers.get('etag')).toBe(`"${BigInt(read.body.version) + 1n}"`);
  });

  it('with a stale If-Match: 412 with the current version, and nothing written', async () => {
    const id = await placed();
    const read = await admin.send('GET', `/orders/${id}`);
    expect((await change(id, 'confirmed', { 'if-match': read.headers.get('etag')! })).status).toBe(200);
    const head = await settledHead();
    const stale = await change(id, 'cancelled', { 'if-match': read.headers.get('etag')! });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ type: 'urn:ordo:problem:stale-version', currentVersion: String(BigInt(read.body.version) + 1n) });
    expect(stale.headers.get('etag')).toBe(`"${stale.body.currentVersion}"`);
    expect(await settledHead()).toBe(head);
    expect((await admin.send('GET', `/orders/${id}`)).body.order.status).toBe('confirmed');
  });

  it('without If-Match: the handler decides; asking for the current status is a 200 no-op', async () => {
    const id = await placed();
    expect((await change(id, 'confirmed')).body).toMatchObject({ applied: true });
    const head = await settledHead();
    const again = await change(id, 'confirmed');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ applied: false, noop: true, message: 'The order is already confirmed; nothing changed.' });
    expect(await settledHead()).toBe(head);
  });

  it('a retried request (same Idempotency-Key) is one change', async () => {
    const id = await placed();
    const key = { 'idempotency-key': 'click-1' };
    const [a, b] = await Promise.all([change(id, 'confirmed', key), change(id, 'confirmed', key)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const history = (await admin.send('GET', `/orders/${id}/history`)).body.history;
    expect(history.filter((h: { type: string }) => h.type === 'OrderStatusChanged')).toHaveLength(1);
  });

  it('a move the lifecycle forbids: 409 with the allowed targets', async () => {
    const id = await placed();
    const res = await change(id, 'delivered');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: 'urn:ordo:problem:invalid-transition', from: 'pending', to: 'delivered', allowed: ['confirmed', 'submitting', 'cancelled'] });
  });

  it('refuses an unknown status, a malformed If-Match and unknown fields with 400', async () => {
    const id = await placed();
    const head = await settledHead();
    expect((await change(id, 'teleported')).body.errors[0].path).toBe('to');
    for (const ifMatch of ['3', 'W/"0"', '"0", "1"', '"-1"', '"abc"']) {
      expect((await change(id, 'confirmed', { 'if-match': ifMatch })).status).toBe(400);
    }
    const extra = await admin.send('POST', `/orders/${id}/status`, { body: { to: 'confirmed', actor: 'admin:bob' } });
    expect(extra.status).toBe(400);
    expect(extra.body.errors).toEqual([{ path: 'actor', message: 'is not a field of this request' }]);
    expect(await settledHead()).toBe(head);
  });
});

describe('GET /orders/:id/events (Server-Sent Events)', () => {
  /** Reads SSE messages until `count` arrived. */
  async function readMessages(path: string, count: number, headers: Record<string, string> = {}) {
    const controller = new AbortController();
    const res = await fetch(server.url + path, { headers: { cookie: admin.cookie!, ...headers }, signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const messages: { id: string; data: any }[] = [];
    while (messages.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id && data) messages.push({ id, data: JSON.parse(data) });
      }
    }
    controller.abort();
    return messages;
  }

  it('streams the order and its notifications, with positions as ids, and resumes after Last-Event-ID', async () => {
    const id = await placed();
    await server.runtime.numbers.waitForNumber(id);
    await change(id, 'confirmed');
    await settledHead();
    const all = await readMessages(`/orders/${id}/events`, 4);
    expect(all.map((m) => m.data.type).slice(0, 2)).toEqual(['OrderPlaced', 'NotificationRequested']);
    expect(all.every((m) => m.data.order.id === id)).toBe(true);
    const ids = all.map((m) => BigInt(m.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    const resumed = await readMessages(`/orders/${id}/events`, 1, { 'last-event-id': all[1]!.id });
    expect(resumed[0]!.id).toBe(all[2]!.id);
  });

  it('refuses a Last-Event-ID that is not a position, and needs a session', async () => {
    const id = await placed();
    const bad = await admin.send('GET', `/orders/${id}/events`, { headers: { 'last-event-id': '1; DROP TABLE' } });
    expect(bad.status).toBe(400);
    expect((await anonymous.send('GET', `/orders/${id}/events`)).status).toBe(401);
  });

  function change(id: string, to: string) {
    return admin.send('POST', `/orders/${id}/status`, { body: { to } });
  }
});

describe('graceful shutdown', () => {
  it('ends live streams, stops the projections and refuses new connections', async () => {
    let closed = false;
    const own = await startTestServer({ onClosed: async () => void (closed = true) });
    const client = await new Client(own.url).login('bob');
    const id = (await client.placeOrder('shutdown')).body.order.id as string;
    const stream = await fetch(`${own.url}/orders/${id}/events`, { headers: { cookie: client.cookie! } });
    const reading = stream.body!.getReader();
    await eventually(() => own.streams.open === 1);
    await own.stop();
    for (let r = await reading.read(); !r.done; r = await reading.read());
    expect(own.streams.open).toBe(0);
    expect(closed).toBe(true);
    expect(own.runtime.board.runner.status().state).toBe('stopped');
    await expect(fetch(`${own.url}/session`)).rejects.toThrow();
  });
});

describe('a store outage', () => {
  /** A memory store whose appends fail as a store that lost its connection would fail them. */
  class FlakyStore extends MemoryEventStore {
    down = false;
    override async appendToStream(stream: string, events: readonly NewEvent[], options: AppendOptions) {
      if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { name: 'StoreUnavailableError', code: 'store_unavailable' });
      return super.appendToStream(stream, events, options);
    }
  }

  it('answers 503 with Retry-After and no detail of the store; the same request succeeds once it is back', async () => {
    const store = new FlakyStore();
    const own = await startTestServer({ store });
    try {
      const client = await new Client(own.url).login('alice');
      const id = (await client.placeOrder('outage')).body.order.id as string;
      store.down = true;
      const res = await client.send('POST', `/orders/${id}/status`, { body: { to: 'confirmed' }, headers: { 'idempotency-key': 'retry-me' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(JSON.stringify(res.body)).not.toContain('10.0.0.5');
      store.down = false;
      const retried = await client.send('POST', `/orders/${id}/status`, { body: { to: 'confirmed' }, headers: { 'idempotency-key': 'retry-me' } });
      expect(retried.body).toMatchObject({ applied: true, order: { status: 'confirmed' } });
    } finally {
      store.down = false;
      await own.stop();
    }
  });
});
