/**
 * A throwaway PgBouncer in front of a test server (no vitest here: the bench uses it too), for the tests that run the store through a
 * pooler: loopback only, `auth_type = trust` (the test server trusts loopback too), in
 * transaction mode unless asked otherwise. When the tests run as root it runs as the `postgres`
 * OS user, as the test server does (PgBouncer refuses root).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { freePort } from './postgres-server.js';

const PGBOUNCER = process.env.PGBOUNCER_PATH ?? '/usr/sbin/pgbouncer';

/** A running PgBouncer. */
export interface TestPgBouncer {
  /** Connection string through PgBouncer to the test server's `postgres` database. */
  url: string;
  /** The pool mode it runs in. */
  mode: 'transaction' | 'statement' | 'session';
  /** Stops it and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link startPgBouncer}. */
export interface StartPgBouncerOptions {
  /** Default `transaction`. */
  mode?: TestPgBouncer['mode'];
  /** Server connections per database and user. Default 20 (the test server allows 300). */
  poolSize?: number;
}

/** Starts PgBouncer in front of the server at `serverUrl`; the caller stops it. */
export async function startPgBouncerFor(serverUrl: string, options: StartPgBouncerOptions = {}): Promise<TestPgBouncer> {
  if (!existsSync(PGBOUNCER)) {
    throw new Error(`PgBouncer not found at ${PGBOUNCER}: install it (Debian: pgbouncer) or set PGBOUNCER_PATH`);
  }
  const mode = options.mode ?? 'transaction';
  const server = new URL(serverUrl);
  const dir = await mkdtemp(join(tmpdir(), 'ordo-pgbouncer-'));
  const owner = userInfo().uid === 0 ? postgresIds() : undefined;
  const port = await freePort();
  await writeFile(join(dir, 'users.txt'), `"${decodeURIComponent(server.username) || 'postgres'}" ""\n`);
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      `pool_mode = ${mode}`,
      // Clients: every pool of a test file together; server connections: a share of the server's.
      'max_client_conn = 400',
      `default_pool_size = ${options.poolSize ?? 20}`,
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  if (owner) {
    for (const file of ['', 'users.txt', 'pgbouncer.ini']) await chown(join(dir, file), ...owner);
  }
  const child = spawn(PGBOUNCER, [join(dir, 'pgbouncer.ini')], { stdio: 'ignore', ...(owner && { uid: owner[0], gid: owner[1] }) });
  const stopNow = () => child.exitCode === null && child.kill('SIGKILL');
  process.on('exit', stopNow);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopNow);
    await kill(child);
    await rm(dir, { recursive: true, force: true });
  };
  const url = `postgres://${server.username || 'postgres'}@127.0.0.1:${port}${server.pathname || '/postgres'}`;
  try {
    await untilItAnswers(url, child, dir);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, mode, stop };
}

function postgresIds(): [number, number] {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return [id('-u'), id('-g')];
}

async function untilItAnswers(url: string, child: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        const log = await readFile(join(dir, 'pgbouncer.log'), 'utf8').catch(() => '');
        throw new Error(`PgBouncer did not start: ${String(error)}\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM'); // immediate shutdown (SIGINT would wait for clients)
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

