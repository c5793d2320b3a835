/**
 * Starting and stopping the whole service: store, projections, HTTP server. `stop()` is the
 * graceful shutdown a SIGTERM triggers: stop accepting connections, end live streams, let requests
 * in flight finish, stop the projections, then close the store and its pool.
 */
import { randomBytes } from 'node:crypto';
import { type CheckpointStore, type EventStore, MemoryEventStore } from '@ordo/core';
import type { Sender } from '@ordo/orders';
import { buildApp, type OrderApp } from './app.js';
import { adminsFromEnv, createSessions } from './auth.js';
import { startOrderRuntime, type OrderRuntime, type OrderRuntimeOptions } from './runtime.js';

/** How to run the service. Every secret has a development default; set them all in production. */
export interface ServerOptions {
  /** Default: an in-memory store. */
  store?: EventStore;
  checkpoints?: CheckpointStore;
  sender: Sender;
  dispatch?: OrderRuntimeOptions['dispatch'];
  /** Default: the two demo admins (see `adminsFromEnv`). */
  admins?: ReadonlyMap<string, string>;
  /** Default: random per process (sessions end with the process). */
  sessionSecret?: string;
  webhookSecret: string;
  secureCookies?: boolean;
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  bodyLimit?: number;
  logger?: boolean | Record<string, unknown>;
  /** Called after everything else on `stop()`: close the pool the store runs on. */
  onClosed?: () => Promise<void>;
}

/** A running service. */
export interface RunningServer extends OrderApp {
  url: string;
  runtime: OrderRuntime;
  /** Graceful shutdown; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts the service and listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const store = options.store ?? new MemoryEventStore();
  const runtime = await startOrderRuntime({
    store,
    sender: options.sender,
    ...(options.checkpoints && { checkpoints: options.checkpoints }),
    ...(options.dispatch && { dispatch: options.dispatch }),
  });
  const sessions = createSessions({
    admins: options.admins ?? adminsFromEnv(undefined),
    sessionSecret: options.sessionSecret ?? randomBytes(32).toString('base64url'),
    secureCookies: options.secureCookies ?? false,
  });
  const built = buildApp({
    runtime,
    sessions,
    webhookSecret: options.webhookSecret,
    ...(options.bodyLimit !== undefined && { bodyLimit: options.bodyLimit }),
    ...(options.logger !== undefined && { logger: options.logger }),
  });
  // Live streams never finish on their own: end them first, or closing would wait for them.
  built.app.addHook('preClose', () => built.streams.closeAll());
  const url = await built.app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  let stopping: Promise<void> | undefined;
  return {
    ...built,
    url,
    runtime,
    stop() {
      stopping ??= (async () => {
        await built.app.close();
        await runtime.stop();
        await store.close();
        await options.onClosed?.();
      })();
      return stopping;
    },
  };
}
