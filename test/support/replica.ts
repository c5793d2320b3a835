/**
 * A primary and a streaming hot-standby replica, both throwaway, for the tests that read the global
 * log from a replica: the primary is a fresh test server (see `postgres-server.ts`) with WAL
 * senders; the replica is `pg_basebackup -R` of it on another loopback port. initdb's pg_hba
 * already trusts replication connections from 127.0.0.1. As root, both run as `postgres`.
 */
import { execFile } from 'node:child_process';
import { appendFile, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findPostgresBinaries, freePort, startPostgres, type TestPostgresServer } from './postgres-server.js';

const run = promisify(execFile);

/** A primary with one streaming replica. */
export interface ReplicatedServers {
  primary: TestPostgresServer;
  /** Connection string of the replica's `postgres` database (read-only). */
  replicaUrl: string;
  /** Stops both and removes their directories. */
  stop(): Promise<void>;
}

/** Starts a primary and a replica streaming from it; the caller stops them. */
export async function startReplicatedServers(): Promise<ReplicatedServers> {
  const bindir = await findPostgresBinaries();
  if (!bindir) throw new Error('PostgreSQL server binaries not found (see postgres-server.ts)');
  const primary = await startPostgres({ settings: { wal_level: 'replica', max_wal_senders: '4' } });
  const asRoot = userInfo().uid === 0;
  const dir = await mkdtemp(join(tmpdir(), 'ordo-replica-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) await chown(dir, ...(await postgresIds()));
  const pgRun = (program: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bindir, program), ...args], { cwd: dir })
      : run(join(bindir, program), args, { cwd: dir });

  let stopped = false;
  const stopReplica = async () => {
    await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopOnExit);
    await stopReplica();
    await primary.stop();
  };
  const stopOnExit = () => void stop();
  process.on('exit', stopOnExit);
  try {
    // -R writes primary_conninfo and standby.signal; -X stream copies the WAL written meanwhile.
    await pgRun('pg_basebackup', ['-d', primary.url, '-D', data, '-R', '-X', 'stream', '-c', 'fast']);
    const port = await freePort();
    // The copied postgresql.conf is the primary's: later lines override its port and socket.
    await appendFile(
      join(data, 'postgresql.conf'),
      ['', '# The replica.', `port = ${port}`, `unix_socket_directories = '${dir}'`, 'hot_standby = on', 'hot_standby_feedback = on', ''].join('\n'),
    );
    try {
      await pgRun('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
    } catch (error) {
      throw new Error(`replica did not start: ${String(error)}\n${await readFile(log, 'utf8').catch(() => '')}`);
    }
    return { primary, replicaUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return [Number(uid.trim()), Number(gid.trim())];
}

/** A pool on `url`; the caller ends it. */
export function poolOn(url: string, config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 10, ...config });
  pool.on('error', () => undefined);
  return pool;
}
