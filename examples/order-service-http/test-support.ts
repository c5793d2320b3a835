/**
 * What the HTTP and browser tests share: a server with a recording sender, an HTTP client that
 * logs in like the page does, and a webhook sender that signs like a provider.
 */
import type { EventStore, CheckpointStore } from '@ordo/core';
import type { NotificationRequest, Sender } from '@ordo/orders';
import { startServer, type RunningServer, type ServerOptions } from './server.js';
import { signWebhook } from './webhook-signature.js';

export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';
export const ADMINS: ReadonlyMap<string, string> = new Map([
  ['alice', 'alice-test-password'],
  ['bob', 'bob-test-password'],
]);

/** A sender that records deliveries and fails a channel while told to. */
export interface RecordingSender extends Sender {
  readonly delivered: (NotificationRequest & { idempotencyKey: string })[];
  /** Channels whose sends throw. */
  readonly failing: Set<string>;
  readonly failures: number;
}

export function recordingSender(): RecordingSender {
  const delivered: (NotificationRequest & { idempotencyKey: string })[] = [];
  const failing = new Set<string>();
  let failures = 0;
  return {
    delivered,
    failing,
    get failures() {
      return failures;
    },
    async send(notification, { idempotencyKey }) {
      if (failing.has(notification.channel)) {
        failures++;
        throw new Error(`${notification.channel} provider answered 503`);
      }
      delivered.push({ ...notification, idempotencyKey });
    },
  };
}

/** A started server on `store` (default: memory) with a recording sender and fast retries. */
export async function startTestServer(
  options: { store?: EventStore; checkpoints?: CheckpointStore; bodyLimit?: number; onClosed?: () => Promise<void>; retryDelayMs?: number } = {},
): Promise<RunningServer & { sender: RecordingSender }> {
  const sender = recordingSender();
  const delay = options.retryDelayMs ?? 20;
  const serverOptions: ServerOptions = {
    sender,
    admins: ADMINS,
    sessionSecret: 'test-session-secret-0123456789abcdef',
    webhookSecret: WEBHOOK_SECRET,
    dispatch: { baseDelayMs: delay, maxDelayMs: delay * 4, maxAttempts: 50 },
    ...(options.store && { store: options.store }),
    ...(options.checkpoints && { checkpoints: options.checkpoints }),
    ...(options.bodyLimit !== undefined && { bodyLimit: options.bodyLimit }),
    ...(options.onClosed && { onClosed: options.onClosed }),
  };
  const server = await startServer(serverOptions);
  return Object.assign(server, { sender });
}

/** A valid order body. */
export function orderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    customer: { name: 'Ann Example', email: 'ann@example.com', phone: '+4915112345678' },
    currency: 'EUR',
    lines: [{ sku: 'PIZZA-M', name: 'Pizza Margherita', quantity: 2, unitPrice: { amount: 950, currency: 'EUR' } }],
    ...overrides,
  };
}

/** A response, its JSON body read. */
export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

/** An HTTP client with an optional admin session, like the page's. */
export class Client {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(readonly base: string) {}

  async login(admin: string, password = ADMINS.get(admin)!): Promise<this> {
    const res = await this.send('POST', '/login', { body: { username: admin, password } });
    if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
    return this;
  }

  /** Sends a request; a session's cookie and CSRF token go with it unless `headers` override them. */
  async send(method: string, path: string, { body, headers = {}, raw }: { body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Reply> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        ...(this.cookie && { cookie: this.cookie }),
        ...(this.csrf && method !== 'GET' && { 'x-csrf-token': this.csrf }),
        ...((body !== undefined || raw !== undefined) && { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    if (path === '/login' && res.status === 200) this.csrf = (parsed as { csrfToken: string }).csrfToken;
    return { status: res.status, headers: res.headers, body: parsed };
  }

  placeOrder(key: string, body: Record<string, unknown> = orderBody()): Promise<Reply> {
    return this.send('POST', '/orders', { body, headers: { 'idempotency-key': key } });
  }
}

/** Delivers a webhook signed with `secret` (default: the right one). */
export async function deliverWebhook(base: string, path: string, payload: unknown, { secret = WEBHOOK_SECRET, signature }: { secret?: string; signature?: string } = {}): Promise<Reply> {
  const raw = JSON.stringify(payload);
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-ordo-signature': signature ?? signWebhook(secret, raw) },
    body: raw,
  });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
}

/** A payment provider's "checkout completed" for `reference`. */
export function paymentPayload(reference: string, customerName = 'Webhook Customer'): Record<string, unknown> {
  return {
    reference,
    amount: { amount: 1900, currency: 'EUR' },
    order: orderBody({ customer: { name: customerName, email: 'webhook@example.com' } }),
  };
}

/** Polls `check` until it returns a value other than `undefined`/`false` (no timing is asserted). */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
