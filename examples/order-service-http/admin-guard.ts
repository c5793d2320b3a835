/**
 * The Fastify side of auth.ts: a hook that admits only admins (and, for state changes, only with
 * the CSRF token), and the session of an admitted request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CSRF_HEADER, type Session, type Sessions } from './auth.js';

const sessions = new WeakMap<FastifyRequest, Session>();

/** An `onRequest` hook: runs before the body is read, so a refused request costs nothing and writes nothing. */
export function adminOnly(checker: Sessions) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const session = checker.authorize({
      cookie: request.headers.cookie,
      csrf: request.headers[CSRF_HEADER],
      origin: request.headers.origin,
      host: request.headers.host,
      method: request.method,
    });
    sessions.set(request, session);
  };
}

/** The admin of a request that passed {@link adminOnly}. */
export function sessionOf(request: FastifyRequest): Session {
  const session = sessions.get(request);
  if (!session) throw new Error('route is missing the adminOnly hook');
  return session;
}
