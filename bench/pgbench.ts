/**
 * The physical limit of the server: `pgbench` committing one-row INSERTs (prepared), at 1 and 16
 * clients, on the same server and settings as the stores. No client library and no store logic:
 * what the disk's flushes and PostgreSQL's commit path allow.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Commits per second of one pgbench run. */
export interface PhysicalLimit {
  clients: number;
  commitsPerSecond: number;
  seconds: number;
}

function pgbenchBinary(): string | undefined {
  const dirs = [process.env.PG_BINDIR, '/usr/lib/postgresql/15/bin'].filter((d): d is string => !!d);
  return dirs.map((d) => join(d, 'pgbench')).find((p) => existsSync(p));
}

/** Runs pgbench at each client count against `url` (a database it may create a table in); none if no pgbench. */
export async function physicalLimits(url: string, clientCounts: number[], seconds: number): Promise<PhysicalLimit[]> {
  const binary = pgbenchBinary();
  if (!binary) return [];
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE TABLE IF NOT EXISTS pgbench_one_row (id bigint GENERATED ALWAYS AS IDENTITY, v int NOT NULL)');
  } finally {
    await client.end();
  }
  const script = join(tmpdir(), `ordo-bench-pgbench-${process.pid}.sql`);
  await writeFile(script, 'INSERT INTO pgbench_one_row (v) VALUES (1);\n');
  const limits: PhysicalLimit[] = [];
  for (const clients of clientCounts) {
    const { stdout } = await run(binary, ['-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), '-f', script, url]);
    const tps = /tps = ([\d.]+)/.exec(stdout)?.[1];
    if (tps) limits.push({ clients, commitsPerSecond: Number(tps), seconds });
  }
  return limits;
}
