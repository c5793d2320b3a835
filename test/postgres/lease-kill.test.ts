/**
 * Two service instances as two processes on one PostgreSQL database, each running the
 * order-numbers projection with a 1 s lease: one numbers orders, the other stands by. The holder
 * gets SIGKILL, so it never gives its lease up; once the lease runs out, the other process takes
 * over from the checkpoint and numbers the orders placed since. Every order ends with exactly one
 * number, and the numbers of the day run without a gap or a repeat.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createOrderService, parseOrderNumber, type OrderService } from '@ordo/orders';
import { PostgresEventStore } from '@ordo/postgres';
import { dropSchema, postgresUrl, testPool, uniqueSchemaName } from '../support/postgres.js';
import { waitUntil } from '../support/wait.js';
import type { StatusReply } from './lease-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./lease-process.ts', import.meta.url));
const PREFIX = 'LK';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** An instance process, started and ready (its runner has made its first attempt at the lease). */
async function startInstance(owner: string, env: Record<string, string>) {
  const child: ChildProcess = fork(CHILD, [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, TSX_TSCONFIG_PATH: `${ROOT}tsconfig.json`, ...env, LEASE_OWNER: owner },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const replies = new Map<number, (reply: StatusReply) => void>();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance ${owner} exited (${code}) before it was ready`)));
    child.on('message', (message: { ready?: true } & StatusReply) => {
      if (message.ready) return resolve();
      replies.get(message.id)?.(message);
    });
  });
  let next = 0;
  return {
    owner,
    exited,
    kill: () => child.kill('SIGKILL'),
    async status(): Promise<StatusReply> {
      const id = ++next;
      return new Promise((resolve) => {
        replies.set(id, resolve);
        child.send({ type: 'status', id });
      });
    },
  };
}

async function placeOrders(orders: OrderService, from: number, to: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < to; i++) {
    const { orderId } = await orders.placeOrder({
      idempotencyKey: `lease-kill-${i}`,
      customer: { email: `c${i}@example.com` },
      currency: 'EUR',
      lines: [{ sku: 'BOARD-GAME', name: 'Board game', quantity: 1, unitPrice: { amount: 3990, currency: 'EUR' } }],
    });
    ids.push(orderId);
  }
  return ids;
}

async function numbered(orders: OrderService, ids: readonly string[]): Promise<boolean> {
  for (const id of ids) if ((await orders.getOrder(id)).number === undefined) return false;
  return true;
}

describe('the lease holder killed with SIGKILL', () => {
  it('the standby process takes over once the lease runs out, and numbers every order once, without gaps', async () => {
    const pool = testPool({ max: 4 });
    cleanups.push(() => pool.end());
    const schema = uniqueSchemaName('lease_kill');
    cleanups.push(() => dropSchema(pool, schema));
    const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
    cleanups.push(() => store.close());
    await store.migrate();
    const orders = createOrderService({ store });
    const env = { DATABASE_URL: postgresUrl(), ORDO_SCHEMA: schema, ORDER_PREFIX: PREFIX, LEASE_TTL_MS: '1000' };

    const first = await startInstance('first', env);
    const second = await startInstance('second', env);
    expect((await first.status()).state).not.toBe('standby');
    expect((await second.status()).state).toBe('standby');

    const before = await placeOrders(orders, 0, 15);
    await waitUntil(() => numbered(orders, before), 'the first orders to be numbered', 30_000);
    expect((await second.status()).state).toBe('standby');
    const holder = async () => (await pool.query<{ owner: string }>(`select owner from "${schema}".projection_leases`)).rows.map((r) => r.owner);
    expect(await holder()).toEqual(['first']);

    first.kill();
    expect(await first.exited).toBe('SIGKILL');
    const after = await placeOrders(orders, 15, 30);
    await waitUntil(() => numbered(orders, after), 'the orders placed after the kill to be numbered', 30_000);
    expect(['running', 'catching-up']).toContain((await second.status()).state);
    expect(await holder()).toEqual(['second']);

    const all = await Promise.all([...before, ...after].map(async (id) => (await orders.getOrder(id)).number!));
    expect(new Set(all).size).toBe(all.length);
    const byDay = new Map<string, number[]>();
    for (const number of all) {
      const { prefix, day, sequence } = parseOrderNumber(number)!;
      expect(prefix).toBe(PREFIX);
      byDay.set(day, [...(byDay.get(day) ?? []), sequence]);
    }
    for (const sequences of byDay.values()) {
      expect(sequences.sort((x, y) => x - y)).toEqual(sequences.map((_, i) => i + 1));
    }
  });
});
