/**
 * The fulfillment process manager killed mid-run. A child process (fulfillment-process.ts) runs the
 * order service and the process manager on PostgreSQL against a provider served over HTTP by this
 * test. The provider answers some submissions, refuses some, and holds the answer to others; once
 * every answer it gave is recorded and the held ones are in flight, the child gets SIGKILL. A new
 * child on the same database must resume the interrupted submissions at once (the timeout is ten
 * minutes, so only a resume can move them), asking the provider by key; no answer the provider
 * gave is lost; no order ever gets a second request; every order ends completed or failed with a reason.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createOrderService, FulfillmentEvents, fulfillmentKey, fulfillmentStream, type OrderService } from '@ordo/orders';
import { PostgresEventStore } from '@ordo/postgres';
import { dropSchema, postgresUrl, testPool, uniqueSchemaName } from '../support/postgres.js';
import { waitUntil } from '../support/wait.js';
import type { ParentRequest } from './fulfillment-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fulfillment-process.ts', import.meta.url));

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

type Answer = { requestId: string } | { refusal: string };

/**
 * The provider, over HTTP: one request per idempotency key, a status query by key. Orders `c<i>`
 * with `i % 5 === 0` are refused every time; while `holding`, the answer to `i % 3 === 1` is held.
 */
class ProviderServer {
  readonly submits: { orderId: string; key: string; attempt: number }[] = [];
  readonly lookups: string[] = [];
  /** Every answer sent back. */
  readonly answers: { orderId: string; attempt: number; answer: Answer }[] = [];
  readonly requests = new Map<string, { requestId: string; orderId: string }>();
  /** Submissions taken whose answer was never sent. */
  readonly held: { orderId: string; key: string; response: ServerResponse }[] = [];
  holding = true;
  private readonly server: Server = createServer((req, res) => void this.serve(req, res));

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const { response } of this.held) response.destroy();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url!, 'http://provider');
    if (url.pathname === '/lookup') {
      const key = url.searchParams.get('key')!;
      this.lookups.push(key);
      const request = this.requests.get(key);
      return request ? res.end(JSON.stringify({ requestId: request.requestId })) : res.writeHead(404).end();
    }
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const { orderId, email, idempotencyKey: key, attempt } = JSON.parse(body) as { orderId: string; email: string; idempotencyKey: string; attempt: number };
    const index = Number(/^c(\d+)@/.exec(email)![1]);
    this.submits.push({ orderId, key, attempt });
    if (index % 5 === 0) {
      const refusal = '503 fulfillment queue is full';
      this.answers.push({ orderId, attempt, answer: { refusal } });
      return res.writeHead(503).end(refusal);
    }
    let request = this.requests.get(key);
    if (!request) this.requests.set(key, (request = { requestId: `req-${this.requests.size + 1}`, orderId }));
    if (this.holding && index % 3 === 1) return void this.held.push({ orderId, key, response: res });
    this.answers.push({ orderId, attempt, answer: { requestId: request.requestId } });
    res.end(JSON.stringify({ requestId: request.requestId }));
  }
}

/** A fulfillment service process, driven by messages. */
async function startService(env: Record<string, string>) {
  const child: ChildProcess = fork(CHILD, [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, TSX_TSCONFIG_PATH: `${ROOT}tsconfig.json`, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const replies = new Map<number, (reply: { result?: unknown; error?: string }) => void>();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the service exited (${code}) before it was ready`)));
    child.on('message', (message: { ready?: true; id?: number; result?: unknown; error?: string }) => {
      if (message.ready) return resolve();
      replies.get(message.id!)?.(message);
    });
  });
  let next = 0;
  return {
    exited,
    kill: () => child.kill('SIGKILL'),
    /** Sends a message and waits for its answer; the service's error is rethrown. */
    async ask<T>(message: ParentRequest): Promise<T> {
      const id = ++next;
      const reply = await new Promise<{ result?: unknown; error?: string }>((resolve) => {
        replies.set(id, resolve);
        child.send({ ...message, id });
      });
      if (reply.error) throw new Error(`the service failed: ${reply.error}`);
      return reply.result as T;
    },
  };
}

/** An answer is recorded: a request id on the order, or the refusal in its fulfillment stream. */
async function isRecorded(store: PostgresEventStore, orders: OrderService, { orderId, attempt, answer }: ProviderServer['answers'][number]) {
  if ('requestId' in answer) return (await orders.getOrder(orderId)).providerRequestId === answer.requestId;
  const { events } = await store.readStream(fulfillmentStream(orderId));
  return events.some((e) => e.type === FulfillmentEvents.Refused && (e.data as { attempt: number; reason: string }).attempt === attempt && (e.data as { reason: string }).reason.includes(answer.refusal));
}

describe('fulfillment killed with SIGKILL mid-run', () => {
  it('a new process resumes interrupted submissions at once by key, loses no answer, and every order ends with one request', async () => {
    const provider = new ProviderServer();
    const providerUrl = await provider.listen();
    cleanups.push(() => provider.close());
    const pool = testPool({ max: 4 });
    cleanups.push(() => pool.end());
    const schema = uniqueSchemaName('fulfillment_kill');
    cleanups.push(() => dropSchema(pool, schema));
    const env = { DATABASE_URL: postgresUrl(), ORDO_SCHEMA: schema, FULFILLMENT_PROVIDER_URL: providerUrl };

    const first = await startService(env);
    const before = await first.ask<string[]>({ type: 'place', from: 0, to: 15 });
    const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
    cleanups.push(() => store.close());
    const orders = createOrderService({ store });
    // Orders 1, 4, 7 and 13 are held at the provider (10 is refused); every answer given is recorded.
    await waitUntil(() => provider.held.length === 4, 'the provider to hold four submissions', 30_000);
    await waitUntil(async () => {
      for (const answer of provider.answers) if (!(await isRecorded(store, orders, answer))) return false;
      return provider.answers.length === 15 - 4;
    }, 'every answer given to be recorded', 30_000);
    const answeredBeforeKill = [...provider.answers];
    first.kill();
    expect(await first.exited).toBe('SIGKILL');
    const interrupted = provider.held.map((h) => h.orderId);
    provider.holding = false;
    const submitsBeforeRestart = provider.submits.length;

    const second = await startService(env);
    // Resumed at once: with a ten-minute timeout and no tick, only a resume can record these.
    await waitUntil(async () => {
      for (const orderId of interrupted) if ((await orders.getOrder(orderId)).status !== 'submitted') return false;
      return true;
    }, 'the interrupted submissions to be resumed', 30_000);
    for (const orderId of interrupted) {
      expect(provider.lookups).toContain(fulfillmentKey(orderId));
      const { events } = await store.readStream(fulfillmentStream(orderId));
      const calls = events.filter((e) => e.type === FulfillmentEvents.Called).map((e) => e.data);
      expect(calls).toEqual([expect.objectContaining({ attempt: 1 }), expect.objectContaining({ attempt: 1, resumed: true })]);
    }
    // Found by key: no interrupted submission was sent again.
    expect(provider.submits.slice(submitsBeforeRestart).filter((s) => interrupted.includes(s.orderId))).toEqual([]);

    const after = await second.ask<string[]>({ type: 'place', from: 15, to: 20 });
    const all = [...before, ...after];
    await driveToTheEnd(second, orders, all);

    for (const answer of answeredBeforeKill) expect(await isRecorded(store, orders, answer), JSON.stringify(answer)).toBe(true);
    for (const orderId of all) {
      const order = await orders.getOrder(orderId);
      expect(['completed', 'failed'], orderId).toContain(order.status);
      if (order.status === 'failed') expect(order.reason, orderId).toMatch(/submission/);
      const keys = new Set(provider.submits.filter((s) => s.orderId === orderId).map((s) => s.key));
      expect([...keys], orderId).toEqual([fulfillmentKey(orderId)]);
      const requests = [...provider.requests.values()].filter((r) => r.orderId === orderId).map((r) => r.requestId);
      expect(requests, orderId).toEqual(order.status === 'completed' ? [order.providerRequestId] : []);
    }
    console.log(`interrupted ${interrupted.length}, answers before the kill ${answeredBeforeKill.length}, lookups ${provider.lookups.length}, submits ${provider.submits.length}`);
  });
});

/** Runs the timer (as if ten minutes passed) until no order is submitting, then the provider reports every order it holds completed. */
async function driveToTheEnd(service: Awaited<ReturnType<typeof startService>>, orders: OrderService, ids: readonly string[]) {
  await waitUntil(async () => {
    const statuses = await Promise.all(ids.map(async (id) => (await orders.getOrder(id)).status));
    if (statuses.every((s) => s !== 'submitting')) return true;
    await service.ask({ type: 'tick', aheadMs: 11 * 60_000 });
    return false;
  }, 'no order left submitting', 60_000);
  for (const orderId of ids) {
    if ((await orders.getOrder(orderId)).status === 'submitted') await service.ask({ type: 'update', orderId, update: { state: 'completed' } });
  }
}
