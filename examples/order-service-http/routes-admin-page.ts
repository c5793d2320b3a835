/**
 * The admin page (static HTML and one script, no build step) and the login endpoints.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { sendJson } from './app.js';
import type { Sessions } from './auth.js';
import { HttpProblem } from './problem.js';
import { loginBody, parseBody } from './request-schemas.js';

const asset = (name: string) => readFileSync(new URL(`./public/${name}`, import.meta.url), 'utf8');

/** Security headers of the page: no framing, no inline script, nothing from elsewhere. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/** Registers `GET /`, `GET /admin.js`, `GET /session`, `POST /login`, `POST /logout`. */
export function registerAdminPage(app: FastifyInstance, sessions: Sessions): void {
  const page = asset('index.html');
  const script = asset('admin.js');
  const style = asset('admin.css');
  app.get('/', async (_request, reply) => reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(page));
  app.get('/admin.js', async (_request, reply) => reply.headers(PAGE_HEADERS).type('text/javascript; charset=utf-8').send(script));
  app.get('/admin.css', async (_request, reply) => reply.headers(PAGE_HEADERS).type('text/css; charset=utf-8').send(style));

  app.get('/session', async (request, reply) => {
    const session = sessions.read(request.headers.cookie);
    if (!session) throw new HttpProblem(401, 'unauthenticated', 'Log in first', 'No admin session.');
    return sendJson(reply, 200, { admin: session.admin, csrfToken: session.csrf });
  });

  app.post('/login', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host}` && origin !== `https://${request.headers.host}`) {
      throw new HttpProblem(403, 'cross-site', 'Cross-site request refused', 'Log in from this site.');
    }
    const body = parseBody(loginBody, request.body, 'login');
    const login = sessions.login(body.username, body.password);
    if (!login) throw new HttpProblem(401, 'bad-credentials', 'Wrong name or password', 'Check the name and password.');
    reply.header('set-cookie', login.cookie);
    return sendJson(reply, 200, { admin: login.session.admin, csrfToken: login.session.csrf });
  });

  app.post('/logout', async (_request, reply) => {
    reply.header('set-cookie', sessions.logoutCookie());
    return reply.code(204).send();
  });
}
