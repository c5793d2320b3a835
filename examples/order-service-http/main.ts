/**
 * Runs the order service: `pnpm demo:web`. Configuration by environment:
 *
 * - `DATABASE_URL` — PostgreSQL (schema `ORDO_SCHEMA`, default `ordo`); without it, the memory store.
 * - `PORT` (default 3000), `HOST` (default 127.0.0.1).
 * - `ORDO_ADMINS` — `name:password,...` (default: the demo admins alice and bob).
 * - `ORDO_SESSION_SECRET` (32+ characters), `ORDO_WEBHOOK_SECRET`, `ORDO_SECURE_COOKIES=1` behind HTTPS.
 * - `ORDO_NOTIFICATIONS_FILE` — append notifications to this file as JSON lines (default: print them).
 */
import type { CheckpointStore, EventStore } from '@ordo/core';
import { adminsFromEnv } from './auth.js';
import { consoleSender, fileSender } from './senders.js';
import { startServer } from './server.js';

const env = process.env;

async function openStore(): Promise<{ store?: EventStore; checkpoints?: CheckpointStore; label: string; close?: () => Promise<void> }> {
  if (!env.DATABASE_URL) return { label: 'the in-memory store (data ends with the process)' };
  const [{ PostgresEventStore, PostgresCheckpointStore }, pg] = await Promise.all([import('@ordo/postgres'), import('pg')]);
  const pool = new pg.default.Pool({ connectionString: env.DATABASE_URL, max: 20 });
  pool.on('error', () => undefined); // a dropped idle connection is replaced, not a crash
  const schema = env.ORDO_SCHEMA ?? 'ordo';
  const store = new PostgresEventStore({ pool, schema });
  await store.migrate();
  return { store, checkpoints: new PostgresCheckpointStore({ pool, schema }), label: `PostgreSQL (schema ${schema})`, close: () => pool.end() };
}

async function main() {
  const opened = await openStore();
  const webhookSecret = env.ORDO_WEBHOOK_SECRET ?? 'demo-webhook-secret';
  if (!env.ORDO_WEBHOOK_SECRET) console.warn('ORDO_WEBHOOK_SECRET is not set: webhooks are checked against a demo secret');
  const server = await startServer({
    ...(opened.store && { store: opened.store }),
    ...(opened.checkpoints && { checkpoints: opened.checkpoints }),
    ...(opened.close && { onClosed: opened.close }),
    sender: env.ORDO_NOTIFICATIONS_FILE ? fileSender(env.ORDO_NOTIFICATIONS_FILE) : consoleSender(),
    admins: adminsFromEnv(env.ORDO_ADMINS),
    ...(env.ORDO_SESSION_SECRET && { sessionSecret: env.ORDO_SESSION_SECRET }),
    webhookSecret,
    secureCookies: env.ORDO_SECURE_COOKIES === '1',
    host: env.HOST ?? '127.0.0.1',
    port: Number(env.PORT ?? 3000),
    logger: { level: env.LOG_LEVEL ?? 'warn' },
  });
  console.log(`Ordo order service on ${opened.label}`);
  console.log(`Admin page: ${server.url}/  (log in as alice / alice-demo-password or bob / bob-demo-password unless ORDO_ADMINS is set)`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      console.log(`${signal}: draining and stopping`);
      server.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error('shutdown failed', error);
          process.exit(1);
        },
      );
    });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
