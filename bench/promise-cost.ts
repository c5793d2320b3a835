/**
 * `pnpm --filter @ordo/bench exec tsx promise-cost.ts` — what each of the store's promises costs
 * when 16 clients append at once. `pgbench` (no Node client at all) drives one-event appends, each
 * to a new stream, on a durable server started for the run, for 8 s per variant, in 3 interleaved
 * rounds; reported: commits per second and the server's CPU per append (all its processes, from
 * /proc). Variants, each adding a promise to the one before, then the store's function, and that
 * function with a step taken out (unsafe: for measurement only):
 *
 *   bare                     one INSERT, unique (stream, version)
 *   + id, + tx id            a unique event id; the writing transaction's id, indexed
 *   + streams                and a row per stream, in the same statement
 *   append_event             the store's one-event function (migration 4)
 *   … without its locks      no per-stream lock, no sequencer lock
 *   … without the draw check positions not checked against the transaction id order
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { STORE_MIGRATIONS, schemaNames } from '../packages/adapters/postgres/src/schema.js';
import { appendEventV4 } from '../packages/adapters/postgres/src/sql/append.sql.js';
import { setServerPid, startCpu } from './cpu.js';
import { createDatabase, dropDatabase, startBenchServer } from './postgres.js';

const run = promisify(execFile);
const PGBENCH = join(process.env.PG_BINDIR ?? '/usr/lib/postgresql/15/bin', 'pgbench');
const DATA = `'{"sku":"SKU-1","quantity":2,"unitPrice":{"amount":1250,"currency":"EUR"}}'`;
const META = `'{"correlationId":"bench","actor":"bench"}'`;
const VALUES = `(gen_random_uuid()::text, 0, gen_random_uuid(), 'ItemAdded', ${DATA}, ${META})`;

const TABLES = `
create table bare (global_position bigint generated always as identity, stream text not null, version bigint not null, id uuid not null, type text not null, data json not null, metadata json not null, recorded_at timestamptz not null default now(), unique (stream, version));
create index on bare (global_position);
create table bare_id (like bare including all, unique (id));
create table bare_id_tx (like bare including all, unique (id), tx_id xid8 not null default pg_current_xact_id());
create index on bare_id_tx (tx_id, global_position);
create table with_streams (like bare_id_tx including all);
create table streams_rows (stream text primary key, version bigint not null);`;

/** The store's function in schema `schema`, with `edit` applied (a step taken out). */
function storeFunction(schema: string, edit: (sql: string) => string): string {
  const sql = appendEventV4(schemaNames(schema)).replace('create function', 'create or replace function');
  const edited = edit(sql);
  if (edit !== keep && edited === sql) throw new Error(`the variant of ${schema} changed nothing: append_event changed?`);
  return edited;
}
const keep = (sql: string) => sql;
const withoutLocks = (sql: string) => sql.replace(/v_taken := pg_advisory[^;]*;/g, 'null;');
const withoutDrawCheck = (sql: string) =>
  sql
    .replace(/v_before := [^;]*;/, 'v_before := 0;')
    .replace('v_taken := pg_current_xact_id()::text;', 'null;')
    .replace('if not p_exclusive and last_position <> v_before + 1 then', 'if false then');

const FUNCTIONS: [string, (sql: string) => string][] = [
  ['store', keep],
  ['no_locks', withoutLocks],
  ['no_draw', withoutDrawCheck],
];

const call = (schema: string) =>
  `select * from ${schema}.append_event(gen_random_uuid()::text, 'no_stream', null, gen_random_uuid(), 'ItemAdded', ${DATA}::json, ${META}::json, false);`;

const VARIANTS: [string, string][] = [
  ['bare', `insert into bare (stream, version, id, type, data, metadata) values ${VALUES};`],
  ['+ id', `insert into bare_id (stream, version, id, type, data, metadata) values ${VALUES};`],
  ['+ tx id', `insert into bare_id_tx (stream, version, id, type, data, metadata) values ${VALUES};`],
  ['+ streams', `with s as (insert into streams_rows values (gen_random_uuid()::text, 0) returning stream) insert into with_streams (stream, version, id, type, data, metadata) select s.stream, 0, gen_random_uuid(), 'ItemAdded', ${DATA}, ${META} from s;`],
  ['append_event (the store)', call('store')],
  ['append_event without its locks (unsafe)', call('no_locks')],
  ['append_event without the draw check (unsafe)', call('no_draw')],
];

async function main() {
  const server = await startBenchServer();
  setServerPid(server.postmasterPid);
  const url = await createDatabase(server.adminUrl, 'bench_promise_cost');
  try {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(TABLES);
    for (const [schema, edit] of FUNCTIONS) {
      await client.query(`create schema ${schema}`);
      for (const migration of STORE_MIGRATIONS) await client.query(migration.sql(schemaNames(schema)));
      await client.query(storeFunction(schema, edit));
    }
    await client.end();
    const clients = process.env.CLIENTS ?? '16';
    const results = new Map<string, { tps: number; cpu: number }[]>();
    for (let round = 1; round <= 3; round++) {
      const load = loadavg()[0]!.toFixed(2);
      for (const [name, sql] of VARIANTS) {
        const script = join(tmpdir(), `ordo-promise-cost-${process.pid}.sql`);
        await writeFile(script, `${sql}\n`);
        const cpu = startCpu();
        const { stdout } = await run(PGBENCH, ['-n', '-M', 'prepared', '-c', clients, '-j', '2', '-T', process.env.SECONDS ?? '8', '-f', script, url]);
        const used = cpu();
        const tx = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
        const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
        results.set(name, [...(results.get(name) ?? []), { tps, cpu: ((used.serverMs ?? 0) * 1000) / tx }]);
      }
      console.log(`round ${round} done (1-minute load average ${load} before it)`);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const bare = median(results.get('bare')!.map((r) => r.tps));
    console.log(`\n| variant (${clients} clients) | appends/s (median) | min – max | ÷ bare | server CPU µs per append |\n| --- | ---: | ---: | ---: | ---: |`);
    for (const [name, rounds] of results) {
      const tps = rounds.map((r) => r.tps);
      console.log(`| ${name} | ${median(tps).toFixed(0)} | ${Math.min(...tps).toFixed(0)} – ${Math.max(...tps).toFixed(0)} | ${(median(tps) / bare).toFixed(2)}× | ${median(rounds.map((r) => r.cpu)).toFixed(0)} |`);
    }
  } finally {
    await dropDatabase(server.adminUrl, 'bench_promise_cost').catch(() => undefined);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
