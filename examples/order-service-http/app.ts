/**
 * The HTTP service: Fastify with the order routes, the webhooks, the live event stream and the
 * admin page. Errors leave as `application/problem+json` (see problem.ts); nothing internal
 * (stack, SQL, file paths) ever reaches a client.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Sessions } from './auth.js';
import { registerAdminPage } from './routes-admin-page.js';
import { registerOrderEvents, type EventStreams } from './routes-events.js';
import { registerOrderRoutes } from './routes-orders.js';
import { registerWebhooks } from './routes-webhooks.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemFor, toJson } from './problem.js';
import type { OrderRuntime } from './runtime.js';

/** What the server is built from. */
export interface AppOptions {
  runtime: OrderRuntime;
  sessions: Sessions;
  /** Shared secret of the payment and fulfillment providers' webhook signatures. */
  webhookSecret: string;
  /** Largest request body, in bytes. Default 64 KiB. */
  bodyLimit?: number;
  /** Fastify's logger option (pino). Default: off. */
  logger?: boolean | Record<string, unknown>;
}

/** The built server, with the live streams it must end on shutdown. */
export interface OrderApp {
  app: FastifyInstance;
  streams: EventStreams;
}

/** Builds the server (not yet listening). */
export function buildApp(options: AppOptions): OrderApp {
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    logger: options.logger ?? false,
    return503OnClosing: true,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Longer path parameters are refused (404) before any handler runs.
    routerOptions: { maxParamLength: 200 },
    // Bad URLs and over-long parameters, refused by the router itself: problems too.
    frameworkErrors: (error, request, reply) => void sendProblem(request, reply, error),
  });
  app.setErrorHandler((error, request, reply) => sendProblem(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, new HttpProblem(404, 'not-found', 'Not found', `No route ${request.method} ${request.url.split('?')[0]}`)),
  );
  registerAdminPage(app, options.sessions);
  registerOrderRoutes(app, options.runtime, options.sessions);
  registerWebhooks(app, options.runtime, options.webhookSecret);
  const streams = registerOrderEvents(app, options.runtime, options.sessions);
  return { app, streams };
}

/** Sends `error` as a problem; logs what a client must not see. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const { status, headers, body } = problemFor(error, { conditional: request.headers['if-match'] !== undefined });
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  return reply
    .code(status)
    .headers(headers)
    .type(PROBLEM_CONTENT_TYPE)
    .send(toJson({ ...body, instance: request.url.split('?')[0] }));
}

/** Sends a JSON body whose bigints (versions, positions) become strings. */
export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(toJson(body));
}
