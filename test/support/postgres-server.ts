/**
 * Starts a throwaway PostgreSQL server from the binaries on this machine, for the tests: `initdb`
 * into a temporary directory, `pg_ctl` on a free loopback port, stopped and removed afterwards.
 * When the tests run as root, the server runs as the `postgres` OS user (PostgreSQL refuses root).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A running test server. */
export interface TestPostgresServer {
  /** Connection string of the `postgres` database, superuser `postgres`, no password. */
  url: string;
  /** PostgreSQL's major version, e.g. `15`. */
  version: string;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Shuts the server down (`pg_ctl stop -m fast`: running sessions are terminated, new connections
   * refused) and keeps its data, for outage tests; {@link TestPostgresServer.restart} brings it back.
   */
  halt(): Promise<void>;
  /** Starts a halted server again, on the same port with the same data. */
  restart(): Promise<void>;
}

const DEFAULT_BINDIR = '/usr/lib/postgresql/15/bin';

/** Where `initdb`, `pg_ctl` and `postgres` are: `pg_config --bindir`, else the Debian default. */
export async function findPostgresBinaries(): Promise<string | undefined> {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    candidates.push(stdout.trim());
  } catch {
    // no pg_config on PATH
  }
  candidates.push(DEFAULT_BINDIR);
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'postgres')));
}

/** A TCP port on 127.0.0.1 that nothing listens on right now (also for the PgBouncer and replica helpers). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /**
   * Durable settings (fsync, synchronous_commit and full_page_writes on, PostgreSQL's defaults),
   * for measurements. Default false: a throwaway test server skips the flushes.
   */
  durable?: boolean;
  /** More `postgresql.conf` settings, e.g. `{ max_connections: '500' }`. */
  settings?: Record<string, string>;
}

/** Starts a server; the caller stops it. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgresServer> {
  const bindir = await findPostgresBinaries();
  if (!bindir) {
    throw new Error(
      `PostgreSQL server binaries not found (tried PG_BINDIR, \`pg_config --bindir\` and ${DEFAULT_BINDIR}). ` +
        'Install PostgreSQL 15 (Debian: postgresql-15) or set DATABASE_URL to a server of yours.',
    );
  }
  const asRoot = userInfo().uid === 0;
  const dir = await mkdtemp(join(tmpdir(), 'ordo-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) await chown(dir, ...(await postgresUser()));

  /** Runs a PostgreSQL program, as `postgres` when we are root. */
  const pg = (program: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bindir, program), ...args], { cwd: dir })
      : run(join(bindir, program), args, { cwd: dir });

  const pgSync = (program: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bindir, program), ...args], { cwd: dir, stdio: 'ignore' })
      : execFileSync(join(bindir, program), args, { cwd: dir, stdio: 'ignore' });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    removeExitHooks();
    try {
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // not running (or already gone)
    }
    await rm(dir, { recursive: true, force: true });
  };

  // A run that ends without its teardown (interrupted, or a crash) must not leave a server behind.
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    try {
      pgSync('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals) => {
    stopNow();
    removeExitHooks();
    // Let the signal do what it would have done without this hook.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const removeExitHooks = () => {
    process.off('exit', stopNow);
    for (const signal of signals) process.off(signal, onSignal);
  };
  process.on('exit', stopNow);
  for (const signal of signals) process.on(signal, onSignal);

  try {
    // --no-sync: nothing here needs to survive a crash of the machine.
    await pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync']);
    const { stdout: versionText } = await pg('postgres', ['--version']);
    const version = /(\d+)(?:\.\d+)?/.exec(versionText)?.[1] ?? 'unknown';

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      await appendFile(
        join(data, 'postgresql.conf'),
        [
          '',
          '# Written by the test harness.',
          `port = ${port}`,
          "listen_addresses = '127.0.0.1'",
          `unix_socket_directories = '${dir}'`,
          'max_connections = 300',
          // A throwaway server: durability buys nothing here, so skip the flushes to save time.
          ...(options.durable ? [] : ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off']),
          ...Object.entries(options.settings ?? {}).map(([key, value]) => `${key} = ${value}`),
          '',
        ].join('\n'),
      );
      try {
        await pg('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
        return {
          url: `postgres://postgres@127.0.0.1:${port}/postgres`,
          version,
          stop,
          halt: async () => {
            await pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
          },
          restart: async () => {
            await pg('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
          },
        };
      } catch (error) {
        // The port may have been taken between the probe and the start: try another.
        if (attempt >= 3) {
          const serverLog = await readFile(log, 'utf8').catch(() => '');
          throw new Error(`pg_ctl start failed: ${String(error)}\n${serverLog}`);
        }
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

async function postgresUser(): Promise<[number, number]> {
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return [Number(uid.trim()), Number(gid.trim())];
}
