/**
 * `pnpm --filter @ordo/bench exec tsx append-cost.ts` — where the server's CPU per single-event
 * append goes. One connection runs 20,000 prepared statements of each variant, one at a time,
 * with synchronous_commit off (so the flush, the same for all, does not hide the CPU), and the
 * backend's own CPU time (from /proc) is divided by the statements. Variants, each adding one of
 * the store's promises to the one before:
 *
 *   bare          one INSERT into a table with unique (stream, version)
 *   + id          and a unique event id (dedupe of retried appends)
 *   + tx id       and the writing transaction's id, indexed (the gap-free global log)
 *   + streams     and a row per stream (the expected version without scanning events)
 *   function, writes only   the same writes from a PL/pgSQL function taking arrays
 *   append_events v2        the store's function as migration 2 left it (nested step functions)
 *   append_events v3        the store's function for batches (migration 3)
 *   append_event v4         the store's one-event function (migration 4)
 *   NOTIFY                  the wake-up the store sends after appends (its own statement)
 *
 * Rounds are interleaved (3); the median and the spread are printed. A server is started as for
 * `pnpm bench` unless DATABASE_URL names one (the backend's CPU is read from /proc, so only a
 * server on this machine gives CPU figures).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import pg from 'pg';
import { STORE_MIGRATIONS, schemaNames } from '../packages/adapters/postgres/src/schema.js';
import { createDatabase, dropDatabase, startBenchServer } from './postgres.js';

const DATA = `'{"sku":"SKU-1","quantity":2,"unitPrice":{"amount":1250,"currency":"EUR"}}'`;
const META = `'{"correlationId":"bench","actor":"bench"}'`;
const COLUMNS = `(stream, version, id, type, data, metadata) values (gen_random_uuid()::text, 0, gen_random_uuid(), 'ItemAdded', ${DATA}, ${META})`;
const appendCall = (schema: string) =>
  `select * from ${schema}.append_events(gen_random_uuid()::text, 'no_stream', null, array[gen_random_uuid()], array['ItemAdded'], array[${DATA}::json], array[${META}::json], false)`;

const oneEventCall = (schema: string) =>
  `select * from ${schema}.append_event(gen_random_uuid()::text, 'no_stream', null, gen_random_uuid(), 'ItemAdded', ${DATA}::json, ${META}::json, false)`;

const SETUP = `
create table bare (global_position bigint generated always as identity, stream text not null, version bigint not null, id uuid not null, type text not null, data json not null, metadata json not null, recorded_at timestamptz not null default now(), unique (stream, version));
create table bare_id (like bare including all, unique (id));
create table bare_id_tx (like bare including all, unique (id), tx_id xid8 not null default pg_current_xact_id());
create index on bare_id_tx (tx_id, global_position);
create table bare_streams_events (like bare_id_tx including all);
create table bare_streams (stream text primary key, version bigint not null);
create function writes_only(p_stream text, p_ids uuid[], p_types text[], p_data json[], p_metadata json[]) returns void language plpgsql as $fn$
begin
  insert into bare_streams values (p_stream, cardinality(p_ids) - 1);
  insert into bare_streams_events (stream, version, id, type, data, metadata)
    select p_stream, i.ord - 1, i.id, i.type, i.data, i.metadata
    from unnest(p_ids, p_types, p_data, p_metadata) with ordinality as i(id, type, data, metadata, ord);
end
$fn$;
`;

const VARIANTS: [string, string][] = [
  ['bare', `insert into bare ${COLUMNS}`],
  ['+ id', `insert into bare_id ${COLUMNS}`],
  ['+ tx id', `insert into bare_id_tx ${COLUMNS}`],
  ['+ streams', `with s as (insert into bare_streams values (gen_random_uuid()::text, 0) returning stream) insert into bare_streams_events (stream, version, id, type, data, metadata) select s.stream, 0, gen_random_uuid(), 'ItemAdded', ${DATA}, ${META} from s`],
  ['function, writes only', `select writes_only(gen_random_uuid()::text, array[gen_random_uuid()], array['ItemAdded'], array[${DATA}::json], array[${META}::json])`],
  ['append_events v2', appendCall('v2')],
  ['append_events v3', appendCall('v3')],
  ['append_event v4 (one event, plain arguments)', oneEventCall('v4')],
  ['NOTIFY sent after an append', `select pg_notify('ordo_bench', '')`],
];

const ticks = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

async function main() {
  const server = await startBenchServer();
  const url = await createDatabase(server.adminUrl, 'bench_append_cost');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(SETUP);
    for (const [schema, upTo] of [['v2', 2], ['v3', 3], ['v4', 4]] as const) {
      await client.query(`create schema ${schema}`);
      for (const m of STORE_MIGRATIONS.slice(0, upTo)) await client.query(m.sql(schemaNames(schema)));
    }
    await client.query('set synchronous_commit = off');
    const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const n = Number(process.env.STATEMENTS ?? 20_000);
    const results = new Map<string, number[]>();
    for (let round = 1; round <= 3; round++) {
      const load = loadavg()[0]!.toFixed(2);
      for (const [name, text] of VARIANTS) {
        const statement = { name: `v_${VARIANTS.findIndex((v) => v[0] === name)}`, text };
        for (let i = 0; i < 500; i++) await client.query(statement);
        const before = ticks(pid);
        for (let i = 0; i < n; i++) await client.query(statement);
        const us = ((ticks(pid) - before) * 10_000) / n; // a tick is 10 ms
        results.set(name, [...(results.get(name) ?? []), us]);
      }
      console.log(`round ${round} done (1-minute load average ${load} before it)`);
    }
    console.log('\n| variant | server CPU µs per append (median) | min – max |\n| --- | ---: | ---: |');
    for (const [name, values] of results) {
      const sorted = [...values].sort((a, b) => a - b);
      console.log(`| ${name} | ${sorted[1]!.toFixed(0)} | ${sorted[0]!.toFixed(0)} – ${sorted[2]!.toFixed(0)} |`);
    }
  } finally {
    await client.end();
    await dropDatabase(server.adminUrl, 'bench_append_cost').catch(() => undefined);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
