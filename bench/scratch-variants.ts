// Scratch (not committed): server CPU of append function variants.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { STORE_MIGRATIONS, schemaNames } from '../packages/adapters/postgres/src/schema.js';
import { createDatabase, dropDatabase, startBenchServer } from './postgres.js';

const DATA = `'{"sku":"SKU-1","quantity":2,"unitPrice":{"amount":1250,"currency":"EUR"}}'`;
const META = `'{"correlationId":"bench","actor":"bench"}'`;
const ticks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};
const v4 = readFileSync('/work/scratch/v4.sql.tpl', 'utf8');
function variant(schema: string, edit: (s: string) => string) {
  const n = schemaNames(schema);
  return edit(v4.replaceAll('${q}', n.q).replaceAll('${streamLockClass}', String(n.streamLockClass)).replaceAll('${sequencerLockKey}', String(n.sequencerLockKey)));
}
const noUpsert = (s: string) => s.replace(/  with stream_row as \([\s\S]*?\n  \)\n/, `  if v_current is null then
    insert into $Q.streams (stream_name, version) values (p_stream, v_version);
  else
    update $Q.streams set version = v_version where stream_name = p_stream;
  end if;
`);
const VARIANTS: Record<string, (s: string) => string> = {
  v4: (s) => s,
  v4_noupsert: (s) => noUpsert(s),
  v4_noupsert_perform: (s) => noUpsert(s).replace(/v_taken := (pg_advisory[^;]*)::text;/g, 'perform $1;').replace('v_taken := pg_current_xact_id()::text;', 'perform pg_current_xact_id();'),
};
async function main() {
  const server = await startBenchServer();
  const url = await createDatabase(server.adminUrl, 'scratch_variants');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const calls: [string, string][] = [];
  for (const [name, edit] of Object.entries(VARIANTS)) {
    await client.query(`create schema ${name}`);
    for (const m of STORE_MIGRATIONS.slice(0, 3)) await client.query(m.sql(schemaNames(name)));
    await client.query(variant(name, edit).replaceAll('$Q', `"${name}"`));
    calls.push([name, `select * from ${name}.append_event(gen_random_uuid()::text, 'no_stream', null, gen_random_uuid(), 'ItemAdded', ${DATA}::json, ${META}::json, false)`]);
  }
  calls.push(['v3', `select * from v4.append_events(gen_random_uuid()::text, 'no_stream', null, array[gen_random_uuid()], array['ItemAdded'], array[${DATA}::json], array[${META}::json], false)`]);
  await client.query('set synchronous_commit = off');
  const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
  const n = Number(process.env.N ?? 20000);
  const res = new Map<string, number[]>();
  for (let r = 0; r < Number(process.env.ROUNDS ?? 3); r++) {
    for (const [name, text] of calls) {
      const st = { name: `s_${name}`, text };
      for (let i = 0; i < 300; i++) await client.query(st);
      const b = ticks(pid);
      for (let i = 0; i < n; i++) await client.query(st);
      res.set(name, [...(res.get(name) ?? []), ((ticks(pid) - b) * 10000) / n]);
    }
  }
  for (const [k, v] of res) console.log(k.padEnd(24), v.map((x) => x.toFixed(0)).join(' '), ' median', [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!.toFixed(0));
  await client.end();
  await dropDatabase(server.adminUrl, 'scratch_variants');
  await server.stop();
}
main().catch((e) => { console.error(e); process.exit(1); });
