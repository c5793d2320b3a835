/**
 * The benchmark's PostgreSQL: a server started from the binaries on this machine with the
 * distribution's default settings (fsync on, synchronous_commit on), unlike the test harness,
 * which turns durability off to save time. Only the port, the listen address and the socket
 * directory are set. When `DATABASE_URL` is given, that server is used instead.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface BenchServer {
  /** Connection string of a database the bench may create and drop databases from. */
  adminUrl: string;
  /** e.g. `PostgreSQL 15.14 (Debian 15.14-0+deb12u1) on x86_64-pc-linux-gnu ...` */
  version: string;
  /** `fsync`, `synchronous_commit`, `shared_buffers`, `max_connections` as the server reports them. */
  settings: Record<string, string>;
  /** True when the bench started the server itself. */
  own: boolean;
  /** The postmaster's pid, when the bench started the server (its CPU can then be measured). */
  postmasterPid?: number;
  stop(): Promise<void>;
}

const DEFAULT_BINDIR = '/usr/lib/postgresql/15/bin';

async function findBinaries(): Promise<string | undefined> {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    candidates.push(stdout.trim());
  } catch {
    // no pg_config on PATH
  }
  candidates.push(DEFAULT_BINDIR);
  return candidates.find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((p) => existsSync(join(dir, p))));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

async function describeServer(url: string): Promise<{ version: string; settings: Record<string, string> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const version = (await client.query<{ version: string }>('SELECT version()')).rows[0]!.version;
    const names = ['fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level'];
    const rows = (await client.query<{ name: string; setting: string; unit: string | null }>(
      'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)',
      [names],
    )).rows;
    const settings: Record<string, string> = {};
    for (const row of rows) {
      settings[row.name] = row.name === 'shared_buffers' ? `${(Number(row.setting) * 8) / 1024} MB` : row.setting;
    }
    return { version, settings };
  } finally {
    await client.end();
  }
}

/** Starts a server (or connects to `DATABASE_URL`). */
export async function startBenchServer(): Promise<BenchServer> {
  const given = process.env.DATABASE_URL;
  if (given) {
    return { adminUrl: given, ...(await describeServer(given)), own: false, stop: async () => undefined };
  }
  const bindir = await findBinaries();
  if (!bindir) {
    throw new Error(
      `PostgreSQL server binaries not found (tried PG_BINDIR, \`pg_config --bindir\`, ${DEFAULT_BINDIR}). ` +
        'Install PostgreSQL 15 or set DATABASE_URL.',
    );
  }
  const asRoot = userInfo().uid === 0;
  const dir = await mkdtemp(join(tmpdir(), 'ordo-bench-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
  }
  const pgrun = (program: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bindir, program), ...args], { cwd: dir })
      : run(join(bindir, program), args, { cwd: dir });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await pgrun('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    } catch {
      // already gone
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // --no-sync only skips flushing initdb's own files; the server below keeps fsync on.
    await pgrun('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync']);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      await appendFile(
        join(data, 'postgresql.conf'),
        ['', `port = ${port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`, ''].join('\n'),
      );
      try {
        await pgrun('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
        const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
        const postmasterPid = Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
        return { adminUrl, ...(await describeServer(adminUrl)), own: true, postmasterPid, stop };
      } catch (error) {
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

/** The URL of database `name` on the same server as `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates a fresh, empty database (dropping a leftover of the same name). */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return databaseUrl(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
