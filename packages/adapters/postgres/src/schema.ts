import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { ValidationError } from '@ordo/core';
import { applyMigrationsInTransactions } from './migration-runner.js';

/** The schema Ordo's tables live in when none is given. */
export const DEFAULT_SCHEMA = 'ordo';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a schema name: lower-case letters, digits and `_`, starting with a letter or `_`, at most
 * 63 characters, not `pg_…` (reserved by PostgreSQL). The name is also quoted wherever it is used.
 * @throws ValidationError when the name is not allowed.
 */
export function validateSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema) || schema.startsWith('pg_')) {
    throw new ValidationError('PostgreSQL schema name', [
      {
        path: 'schema',
        message:
          'must be 1–63 lower-case letters, digits or "_", start with a letter or "_", and not start with "pg_"',
      },
    ]);
  }
  return schema;
}

/** The names every statement uses for one schema: quoted identifiers and lock keys. */
export interface SchemaNames {
  schema: string;
  /** `"schema"`, quoted. */
  q: string;
  /** Channel the store notifies after each append, and listeners LISTEN on. */
  channel: string;
  /** Class id (int4) of the per-stream advisory locks of this schema. */
  streamLockClass: number;
  /** Key (int8) of the advisory lock taken (shared, or exclusive as a fallback) to draw global positions. */
  sequencerLockKey: bigint;
  /** Key (int8) of the advisory lock migrations run under. */
  migrationLockKey: bigint;
  /**
   * Short key of the schema for prepared statement names (a hash): names built from a long schema
   * name would be cut at PostgreSQL's 63 bytes, and two schemas would then share them.
   */
  statementKey: string;
}

/** The quoted names and lock keys of one schema. */
export function schemaNames(schema: string): SchemaNames {
  return {
    schema,
    q: `"${schema}"`,
    channel: `ordo_${schema}`.slice(0, 63),
    streamLockClass: hash(`ordo:stream-lock:${schema}`).readInt32BE(0),
    sequencerLockKey: hash(`ordo:sequencer:${schema}`).readBigInt64BE(0),
    migrationLockKey: hash(`ordo:migrate:${schema}`).readBigInt64BE(0),
    statementKey: hash(`ordo:statements:${schema}`).toString('hex').slice(0, 24),
  };
}

/**
 * An advisory lock key (int8) for a purpose, e.g. `ordo:migrate:orders:<schema>`: a hash, so that
 * unrelated components never share a key by accident.
 */
export function advisoryLockKey(purpose: string): bigint {
  return hash(purpose).readBigInt64BE(0);
}

function hash(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * One step of a schema's history: applied once, in order, each in its own transaction, and
 * recorded in the component's migrations table.
 */
export interface Migration {
  /** Position in the history, from 1, strictly increasing. */
  version: number;
  /** What the step does, recorded beside its version. */
  name: string;
  /** The statements, for the schema's names (`q` is the quoted schema). */
  sql(names: SchemaNames): string;
}

const migrations: Migration[] = [
  {
    version: 1,
    name: 'streams, events, append function, checkpoints',
    sql: ({ q, streamLockClass, sequencerLockKey }) => `
create table ${q}.streams (
  stream_name text primary key,
  -- Version of the stream's last event (0-based).
  version bigint not null check (version >= 0)
);

-- cache 1 (the default) matters: the append reads the sequence's last value (step 4).
create sequence ${q}.events_global_position_seq as bigint start with 1 minvalue 1 cache 1 no cycle;

create table ${q}.events (
  global_position bigint primary key,
  event_id uuid not null,
  stream_name text not null,
  stream_version bigint not null,
  event_type text not null,
  data json not null,
  metadata json not null,
  recorded_at timestamptz not null default now(),
  -- The writing transaction: the global log shows only rows of transactions older than every
  -- transaction still running (see the README: "A gap-free global log").
  tx_id xid8 not null default pg_current_xact_id(),
  constraint events_event_id_key unique (event_id),
  constraint events_stream_version_key unique (stream_name, stream_version)
);

-- Finds the newest row below the transaction horizon without scanning what lies above it.
create index events_tx_id_idx on ${q}.events (tx_id, global_position);

create table ${q}.checkpoints (
  name text primary key,
  position bigint not null,
  updated_at timestamptz not null default now()
);

-- Appends one batch to one stream, atomically, in one statement. Conflicts are returned, not
-- raised, so that the caller's connection stays usable:
--   status 'ok'        written: version = the stream's last version, last_position = the batch's last position
--   status 'retried'   the batch was already stored: nothing written, the original version and position
--   status 'conflict'  version = the stream's actual version (null: no stream); nothing written
--   status 'duplicate' duplicate_id = an id stored elsewhere; nothing written
--   status 'interleaved' another append drew positions at the same moment: nothing written, run it again
-- It sends no notification: NOTIFY in a writing transaction holds a database-wide lock through
-- its commit, which would make every append wait for the flush of the one before. The store
-- notifies listeners after the commit instead.
create function ${q}.append_events(
  p_stream text,
  p_expected text,            -- 'any' | 'no_stream' | 'stream_exists' | 'version'
  p_expected_version bigint,  -- with 'version'
  p_ids uuid[],
  p_types text[],
  p_data json[],
  p_metadata json[],
  p_exclusive boolean default false,  -- see step 4
  out status text,
  out version bigint,
  out last_position bigint,
  out duplicate_id uuid
)
language plpgsql
as $fn$
declare
  v_n int := coalesce(cardinality(p_ids), 0);
  v_current bigint;
  v_found_stream text;
  v_found_version bigint;
  v_count int;
  v_positions bigint[];
  v_before bigint;
begin
  if v_n = 0 or cardinality(p_types) <> v_n or cardinality(p_data) <> v_n or cardinality(p_metadata) <> v_n
     or p_expected not in ('any', 'no_stream', 'stream_exists', 'version')
     or (p_expected = 'version' and p_expected_version is null) then
    raise exception 'ordo: append_events: bad arguments' using errcode = '22023';
  end if;

  -- 1. Serialise the appends to this stream until commit. Each then sees the committed result of
  --    the one before. An advisory lock, not a row lock: the transaction must not get its
  --    transaction id before step 4.
  perform pg_advisory_xact_lock(${streamLockClass}, hashtext(p_stream));

  -- 2. A retry: the batch's ids are already stored, consecutively and in order, in this stream.
  select e.stream_name, e.stream_version into v_found_stream, v_found_version
    from ${q}.events e where e.event_id = p_ids[1];
  if found then
    if v_found_stream = p_stream then
      select count(*)::int, max(e.stream_version), max(e.global_position)
        into v_count, version, last_position
        from unnest(p_ids) with ordinality as i(id, ord)
        join ${q}.events e
          on e.event_id = i.id and e.stream_name = p_stream and e.stream_version = v_found_version + i.ord - 1;
      if v_count = v_n then
        status := 'retried';
        return;
      end if;
    end if;
    status := 'duplicate';
    version := null;
    last_position := null;
    duplicate_id := p_ids[1];
    return;
  end if;
  if v_n > 1 then
    select i.id into duplicate_id
      from unnest(p_ids) with ordinality as i(id, ord)
      join ${q}.events e on e.event_id = i.id
      order by i.ord limit 1;
    if found then
      status := 'duplicate';
      return;
    end if;
  end if;

  -- 3. The expected version, checked before any global position is drawn.
  select s.version into v_current from ${q}.streams s where s.stream_name = p_stream;
  if not (case p_expected
            when 'any' then true
            when 'no_stream' then v_current is null
            when 'stream_exists' then v_current is not null
            else v_current is not distinct from p_expected_version
          end) then
    status := 'conflict';
    version := v_current;
    return;
  end if;

  -- 4. Take a transaction id, then draw the global positions, so that transaction ids and
  --    positions are in the same order: readers rely on it (they read rows of transactions older
  --    than every running one, and nothing may commit later below those rows). Optimistically:
  --    read the sequence, take the id, draw; if the positions drawn are exactly the ones after the
  --    value read, no other append drew in between, and every other append that passes this
  --    check is wholly before or wholly after this one in both orders. If another append drew in
  --    between, write nothing and answer 'interleaved': the caller runs the append again, and
  --    after repeated interleaving asks for p_exclusive, which keeps every other append out of
  --    this step until this transaction ends (no check needed then).
  if pg_current_xact_id_if_assigned() is not null then
    raise exception 'ordo: append_events must be the first write of its transaction'
      using errcode = '25001';
  end if;
  if p_exclusive then
    perform pg_advisory_xact_lock(${sequencerLockKey});
  else
    perform pg_advisory_xact_lock_shared(${sequencerLockKey});
  end if;
  v_before := coalesce(pg_sequence_last_value('${q}.events_global_position_seq'::regclass), 0);
  perform pg_current_xact_id();
  if v_n = 1 then
    v_positions := array[nextval('${q}.events_global_position_seq')];
  else
    v_positions := array(select nextval('${q}.events_global_position_seq') from generate_series(1, v_n));
  end if;
  if not p_exclusive and (v_positions[1] <> v_before + 1 or v_positions[v_n] <> v_before + v_n) then
    status := 'interleaved';
    return;
  end if;

  -- 5. Write.
  if v_current is null then
    insert into ${q}.streams (stream_name, version) values (p_stream, v_n - 1);
  else
    update ${q}.streams set version = v_current + v_n where stream_name = p_stream;
  end if;
  insert into ${q}.events (global_position, event_id, stream_name, stream_version, event_type, data, metadata)
    select v_positions[i.ord], i.id, p_stream, coalesce(v_current, -1) + i.ord, i.type, i.data, i.metadata
      from unnest(p_ids, p_types, p_data, p_metadata) with ordinality as i(id, type, data, metadata, ord);

  status := 'ok';
  version := coalesce(v_current, -1) + v_n;
  last_position := v_positions[v_n];
end
$fn$;
`,
  },
  {
    version: 2,
    name: 'appends to several streams: append_events split into shared steps, append_multi',
    sql: ({ q, streamLockClass, sequencerLockKey }) => `
-- The steps of append_events (migration 1), split so that an append to one stream and an append to
-- several run the very same checks and writes. append_events keeps its signature and answers.

-- Steps 2 and 3 for one stream, whose lock the caller holds:
--   status 'ready'     version = the stream's version (null: no stream): go ahead
--   status 'retried' / 'conflict' / 'duplicate'  as append_events answers them
create function ${q}.append_check(
  p_stream text,
  p_expected text,
  p_expected_version bigint,
  p_ids uuid[],
  out status text,
  out version bigint,
  out last_position bigint,
  out duplicate_id uuid
)
language plpgsql
as $fn$
declare
  v_n int := cardinality(p_ids);
  v_current bigint;
  v_found_stream text;
  v_found_version bigint;
  v_count int;
begin
  -- A retry: the batch's ids are already stored, consecutively and in order, in this stream.
  select e.stream_name, e.stream_version into v_found_stream, v_found_version
    from ${q}.events e where e.event_id = p_ids[1];
  if found then
    if v_found_stream = p_stream then
      select count(*)::int, max(e.stream_version), max(e.global_position)
        into v_count, version, last_position
        from unnest(p_ids) with ordinality as i(id, ord)
        join ${q}.events e
          on e.event_id = i.id and e.stream_name = p_stream and e.stream_version = v_found_version + i.ord - 1;
      if v_count = v_n then
        status := 'retried';
        return;
      end if;
    end if;
    status := 'duplicate';
    version := null;
    last_position := null;
    duplicate_id := p_ids[1];
    return;
  end if;
  if v_n > 1 then
    select i.id into duplicate_id
      from unnest(p_ids) with ordinality as i(id, ord)
      join ${q}.events e on e.event_id = i.id
      order by i.ord limit 1;
    if found then
      status := 'duplicate';
      return;
    end if;
  end if;

  -- The expected version, checked before any global position is drawn.
  select s.version into v_current from ${q}.streams s where s.stream_name = p_stream;
  version := v_current;
  status := case when (case p_expected
                         when 'any' then true
                         when 'no_stream' then v_current is null
                         when 'stream_exists' then v_current is not null
                         else v_current is not distinct from p_expected_version
                       end) then 'ready' else 'conflict' end;
end
$fn$;

-- Step 4 (see append_events in migration 1 for why): a transaction id, then p_n positions drawn
-- in its order. Null when another append drew at the same moment (nothing is written then).
create function ${q}.append_draw(p_n int, p_exclusive boolean)
returns bigint[]
language plpgsql
as $fn$
declare
  v_positions bigint[];
  v_before bigint;
begin
  if pg_current_xact_id_if_assigned() is not null then
    raise exception 'ordo: append_events must be the first write of its transaction'
      using errcode = '25001';
  end if;
  if p_exclusive then
    perform pg_advisory_xact_lock(${sequencerLockKey});
  else
    perform pg_advisory_xact_lock_shared(${sequencerLockKey});
  end if;
  v_before := coalesce(pg_sequence_last_value('${q}.events_global_position_seq'::regclass), 0);
  perform pg_current_xact_id();
  if p_n = 1 then
    v_positions := array[nextval('${q}.events_global_position_seq')];
  else
    v_positions := array(select nextval('${q}.events_global_position_seq') from generate_series(1, p_n));
  end if;
  if not p_exclusive and (v_positions[1] <> v_before + 1 or v_positions[p_n] <> v_before + p_n) then
    return null;
  end if;
  return v_positions;
end
$fn$;

-- Step 5: writes a checked batch at the positions drawn for it.
create function ${q}.append_write(
  p_stream text, p_current bigint, p_positions bigint[],
  p_ids uuid[], p_types text[], p_data json[], p_metadata json[]
)
returns void
language plpgsql
as $fn$
declare
  v_n int := cardinality(p_ids);
begin
  if p_current is null then
    insert into ${q}.streams (stream_name, version) values (p_stream, v_n - 1);
  else
    update ${q}.streams set version = p_current + v_n where stream_name = p_stream;
  end if;
  insert into ${q}.events (global_position, event_id, stream_name, stream_version, event_type, data, metadata)
    select p_positions[i.ord], i.id, p_stream, coalesce(p_current, -1) + i.ord, i.type, i.data, i.metadata
      from unnest(p_ids, p_types, p_data, p_metadata) with ordinality as i(id, type, data, metadata, ord);
end
$fn$;

-- The append to one stream, now made of the steps above; same arguments, same answers.
create or replace function ${q}.append_events(
  p_stream text,
  p_expected text,
  p_expected_version bigint,
  p_ids uuid[],
  p_types text[],
  p_data json[],
  p_metadata json[],
  p_exclusive boolean default false,
  out status text,
  out version bigint,
  out last_position bigint,
  out duplicate_id uuid
)
language plpgsql
as $fn$
declare
  v_n int := coalesce(cardinality(p_ids), 0);
  v_check record;
  v_positions bigint[];
begin
  if v_n = 0 or cardinality(p_types) <> v_n or cardinality(p_data) <> v_n or cardinality(p_metadata) <> v_n
     or p_expected not in ('any', 'no_stream', 'stream_exists', 'version')
     or (p_expected = 'version' and p_expected_version is null) then
    raise exception 'ordo: append_events: bad arguments' using errcode = '22023';
  end if;
  -- 1. Serialise the appends to this stream until commit (an advisory lock: see migration 1).
  perform pg_advisory_xact_lock(${streamLockClass}, hashtext(p_stream));
  select * into v_check from ${q}.append_check(p_stream, p_expected, p_expected_version, p_ids);
  if v_check.status <> 'ready' then
    status := v_check.status;
    version := v_check.version;
    last_position := v_check.last_position;
    duplicate_id := v_check.duplicate_id;
    return;
  end if;
  v_positions := ${q}.append_draw(v_n, p_exclusive);
  if v_positions is null then
    status := 'interleaved';
    return;
  end if;
  perform ${q}.append_write(p_stream, v_check.version, v_positions, p_ids, p_types, p_data, p_metadata);
  status := 'ok';
  version := coalesce(v_check.version, -1) + v_n;
  last_position := v_positions[v_n];
end
$fn$;

-- Appends to several streams in one transaction: request i is p_streams[i] with the next
-- p_counts[i] entries of the event arrays. Every stream is locked (in one order for every caller,
-- so that two calls over overlapping streams cannot wait on each other), every request is checked
-- as append_events checks it, and only if all are ready are positions drawn, one contiguous run in
-- request order, and every batch written. Answers:
--   'ok'          statuses[i] 'ok', versions[i] / positions[i] = the stream's last version / position
--   'retried'     every batch was stored already: versions / positions as first stored
--   'partial'     some batches were stored already (statuses[i] 'retried'), others not: nothing written
--   'conflict'    statuses[i] 'conflict' where the expected version did not match, versions[i] = actual
--   'duplicate'   duplicate_id = an id stored elsewhere; nothing written
--   'interleaved' as append_events: nothing written, run it again
create function ${q}.append_multi(
  p_streams text[],
  p_expected text[],
  p_expected_versions bigint[],
  p_counts int[],
  p_ids uuid[],
  p_types text[],
  p_data json[],
  p_metadata json[],
  p_exclusive boolean default false,
  out status text,
  out statuses text[],
  out versions bigint[],
  out positions bigint[],
  out duplicate_id uuid
)
language plpgsql
as $fn$
declare
  v_k int := coalesce(cardinality(p_streams), 0);
  v_n int := coalesce(cardinality(p_ids), 0);
  v_hash int;
  v_check record;
  v_positions bigint[];
  v_from int := 1;
  v_to int;
  i int;
begin
  if v_k = 0 or cardinality(p_expected) <> v_k or cardinality(p_expected_versions) <> v_k
     or cardinality(p_counts) <> v_k or v_n = 0
     or (select sum(c) from unnest(p_counts) c) <> v_n or (select min(c) from unnest(p_counts) c) < 1
     or cardinality(p_types) <> v_n or cardinality(p_data) <> v_n or cardinality(p_metadata) <> v_n
     or (select count(distinct s) from unnest(p_streams) s) <> v_k then
    raise exception 'ordo: append_multi: bad arguments' using errcode = '22023';
  end if;
  for v_hash in select distinct hashtext(s) from unnest(p_streams) s order by 1 loop
    perform pg_advisory_xact_lock(${streamLockClass}, v_hash);
  end loop;
  statuses := array_fill(null::text, array[v_k]);
  versions := array_fill(null::bigint, array[v_k]);
  positions := array_fill(null::bigint, array[v_k]);
  for i in 1..v_k loop
    v_to := v_from + p_counts[i] - 1;
    select * into v_check
      from ${q}.append_check(p_streams[i], p_expected[i], p_expected_versions[i], p_ids[v_from:v_to]);
    if v_check.status = 'duplicate' then
      status := 'duplicate';
      duplicate_id := v_check.duplicate_id;
      return;
    end if;
    statuses[i] := v_check.status;
    versions[i] := v_check.version;
    positions[i] := v_check.last_position;
    v_from := v_to + 1;
  end loop;
  if 'retried' = all(statuses) then
    status := 'retried';
    return;
  elsif 'retried' = any(statuses) then
    status := 'partial';
    return;
  elsif 'conflict' = any(statuses) then
    status := 'conflict';
    return;
  end if;
  v_positions := ${q}.append_draw(v_n, p_exclusive);
  if v_positions is null then
    status := 'interleaved';
    return;
  end if;
  v_from := 1;
  for i in 1..v_k loop
    v_to := v_from + p_counts[i] - 1;
    perform ${q}.append_write(p_streams[i], versions[i], v_positions[v_from:v_to],
      p_ids[v_from:v_to], p_types[v_from:v_to], p_data[v_from:v_to], p_metadata[v_from:v_to]);
    statuses[i] := 'ok';
    versions[i] := coalesce(versions[i], -1) + p_counts[i];
    positions[i] := v_positions[v_to];
    v_from := v_to + 1;
  end loop;
  status := 'ok';
end
$fn$;
`,
  },
];

/** The store's schema history, in order (for tests that build a schema as an earlier release left it). */
export const STORE_MIGRATIONS: readonly Migration[] = migrations;

/** The newest schema version this code knows. */
export const LATEST_SCHEMA_VERSION = migrations[migrations.length - 1]!.version;

/**
 * Brings `schema` up to date. Runs under an advisory lock, so concurrent callers (several
 * service instances starting at once) take turns; each migration runs in its own transaction and is
 * recorded, so running it again does nothing. Also repairs the transaction ids of restored rows.
 * @returns the versions this call applied.
 */
export async function migrateSchema(pool: Pool, names: SchemaNames): Promise<number[]> {
  return applyMigrations(pool, names, {
    table: 'schema_migrations',
    lockKey: names.migrationLockKey,
    migrations,
    after: (client) => repairRestoredTransactionIds(client, names),
  });
}

/** Where a component (the store, or a package's read models) records its migrations. */
export interface MigrationHistory {
  /** Table in the schema that records applied versions, e.g. `schema_migrations`. */
  table: string;
  /** Advisory lock key that concurrent migrators of this component take turns on. */
  lockKey: bigint;
  /** The component's history, in order. */
  migrations: readonly Migration[];
  /** Work run under the lock after the migrations. */
  after?(client: PoolClient): Promise<void>;
}

/**
 * Applies a component's pending migrations, each in its own transaction under a transaction-level
 * advisory lock, so concurrent callers take turns and running it again does nothing; works through
 * a pooler in transaction mode (see `migration-runner.ts`).
 * @returns the versions this call applied.
 */
export async function applyMigrations(pool: Pool, names: SchemaNames, history: MigrationHistory): Promise<number[]> {
  return applyMigrationsInTransactions(pool, names, history);
}

/**
 * Rows copied from another cluster (pg_dump and restore, logical replication) keep that cluster's
 * transaction ids, which may be ahead of this cluster's: the global log would hide them until this
 * cluster's ids caught up. A committed row whose id this cluster has not issued yet can only come
 * from elsewhere, and is long committed: give it the oldest id, so it is below every horizon.
 * In a live cluster no visible row qualifies, and the statement changes nothing.
 */
async function repairRestoredTransactionIds(client: PoolClient, { q }: SchemaNames): Promise<void> {
  await client.query(
    `update ${q}.events set tx_id = '3'::xid8 where tx_id >= pg_snapshot_xmax(pg_current_snapshot())`,
  );
}
