/**
 * Who may do what. Admins log in with a password and get a signed session cookie; the actor
 * recorded on every event is the session's admin, never anything the client sends. State-changing
 * requests need the session's CSRF token in a header (a cross-site form cannot set one), and the
 * cookie is `SameSite=Strict`. Framework-agnostic: plain functions over headers.
 */
import { createHmac, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { HttpProblem } from './problem.js';

/** An authenticated admin. */
export interface Session {
  /** The admin's name: recorded as the actor (`admin:<name>`). */
  admin: string;
  /** Must come back in the `x-csrf-token` header on every state-changing request. */
  csrf: string;
  /** Expiry, epoch milliseconds. */
  expires: number;
}

/** Admins and the secret that signs their sessions. */
export interface AuthConfig {
  /** Name → password. */
  admins: ReadonlyMap<string, string>;
  /** Signs session cookies; at least 32 characters. */
  sessionSecret: string;
  /** Session lifetime. Default 8 hours. */
  sessionTtlMs?: number;
  /** Adds `Secure` to the cookie: set it whenever the service is served over HTTPS. */
  secureCookies?: boolean;
}

/** The session cookie's name. */
export const SESSION_COOKIE = 'ordo_session';
/** The header that carries the CSRF token. */
export const CSRF_HEADER = 'x-csrf-token';

/**
 * Reads admins from `ORDO_ADMINS` (`name:password,name:password`); without it, the two demo admins
 * `alice` and `bob` with demo passwords. Names are lower-case letters and digits.
 */
export function adminsFromEnv(value: string | undefined): Map<string, string> {
  const admins = new Map<string, string>();
  const source = value ?? 'alice:alice-demo-password,bob:bob-demo-password';
  for (const pair of source.split(',')) {
    const at = pair.indexOf(':');
    const name = pair.slice(0, at).trim();
    const password = pair.slice(at + 1);
    if (at <= 0 || !/^[a-z][a-z0-9]{0,31}$/.test(name) || password.length < 8) {
      throw new Error('ORDO_ADMINS must be "name:password" pairs, names in lower-case letters and digits, passwords of 8+ characters');
    }
    admins.set(name, password);
  }
  return admins;
}

/** Sessions signed with HMAC-SHA256. */
export interface Sessions {
  /** Checks a login; returns the new session and its `Set-Cookie` value, or `undefined`. */
  login(name: unknown, password: unknown): { session: Session; cookie: string } | undefined;
  /** The `Set-Cookie` value that ends a session. */
  logoutCookie(): string;
  /** The session a `Cookie` header carries, if it is valid and not expired. */
  read(cookieHeader: string | undefined): Session | undefined;
  /**
   * The session of a request that may change state.
   * @throws HttpProblem 401 without a valid session; 403 without the matching CSRF token or from another origin.
   */
  authorize(request: { cookie: string | undefined; csrf: string | string[] | undefined; origin: string | undefined; host: string | undefined; method: string }): Session;
}

/** Creates the session signer and checker. */
export function createSessions(config: AuthConfig): Sessions {
  if (config.sessionSecret.length < 32) throw new Error('the session secret must have at least 32 characters');
  const ttl = config.sessionTtlMs ?? 8 * 60 * 60 * 1000;
  const sign = (payload: string) => createHmac('sha256', config.sessionSecret).update(payload).digest('base64url');
  const attributes = `Path=/; HttpOnly; SameSite=Strict${config.secureCookies ? '; Secure' : ''}`;

  function read(cookieHeader: string | undefined): Session | undefined {
    const raw = cookieValue(cookieHeader, SESSION_COOKIE);
    if (!raw) return undefined;
    const [payload, signature] = raw.split('.');
    if (!payload || !signature || !sameText(signature, sign(payload))) return undefined;
    try {
      const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
      if (typeof session.admin !== 'string' || !config.admins.has(session.admin)) return undefined;
      return session.expires > Date.now() ? session : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    read,
    login(name, password) {
      if (typeof name !== 'string' || typeof password !== 'string') return undefined;
      const expected = config.admins.get(name);
      // Compare digests of equal length, so timing does not tell how much of a password matched.
      if (expected === undefined || !sameText(digest(password), digest(expected))) return undefined;
      const session: Session = { admin: name, csrf: randomBytes(24).toString('base64url'), expires: Date.now() + ttl };
      const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
      return { session, cookie: `${SESSION_COOKIE}=${payload}.${sign(payload)}; ${attributes}; Max-Age=${Math.floor(ttl / 1000)}` };
    },
    logoutCookie: () => `${SESSION_COOKIE}=; ${attributes}; Max-Age=0`,
    authorize(request) {
      const session = read(request.cookie);
      if (!session) throw new HttpProblem(401, 'unauthenticated', 'Log in first', 'This needs an admin session.');
      if (request.method === 'GET' || request.method === 'HEAD') return session;
      if (request.origin !== undefined && request.origin !== 'null' && !sameOrigin(request.origin, request.host)) {
        throw new HttpProblem(403, 'cross-site', 'Cross-site request refused', 'State-changing requests must come from this site.');
      }
      if (typeof request.csrf !== 'string' || !sameText(request.csrf, session.csrf)) {
        throw new HttpProblem(403, 'csrf', 'Missing or wrong CSRF token', `Send the session's CSRF token in the ${CSRF_HEADER} header.`);
      }
      return session;
    },
  };
}

/** The actor recorded for an admin. */
export function actorOf(session: Session): string {
  return `admin:${session.admin}`;
}

function digest(text: string): Buffer {
  return scryptSync(text, 'ordo-admin-login', 32);
}

function sameText(a: string | Buffer, b: string | Buffer): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** One cookie's value from a `Cookie` header. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
