import type { SchemaNames } from '../schema.js';

// The SQL of the append functions, as the store's migrations create them. The text of a released
// migration never changes (deployed databases have applied it): a change to a function is a new
// builder here, applied by a new migration in `schema.ts`.

/**
 * `append_events` as migration 1 creates it: the whole append to one stream in one function
 * (lock, retry and duplicate check, expected version, positions drawn in transaction-id order, write).
 */
export function appendEventsV1({ q, streamLockClass, sequencerLockKey }: SchemaNames): string {
  return `-- Appends one batch to one stream, atomically, in one statement. Conflicts are returned, not
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
`;
}

/**
 * Migration 2: `append_events` split into shared steps (`append_check`, `append_draw`,
 * `append_write`) and `append_multi`, the atomic append to several streams built from them.
 */
export function appendStepsV2({ q, streamLockClass, sequencerLockKey }: SchemaNames): string {
  return `
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
`;
}

/**
 * Migration 3: `append_events` as one function again (no nested calls to the shared steps, which
 * cost about a tenth of an append's server time), with the one-event append, the common case,
 * written without arrays. Same arguments, same answers, same steps and locks as migration 2;
 * `append_multi` keeps using the shared steps.
 */
export function appendEventsV3({ q, streamLockClass, sequencerLockKey }: SchemaNames): string {
  return `
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
  v_current bigint;
  v_found_stream text;
  v_found_version bigint;
  v_found_position bigint;
  v_count int;
  v_positions bigint[];
  v_position bigint;
  v_before bigint;
begin
  if v_n = 0 or cardinality(p_types) <> v_n or cardinality(p_data) <> v_n or cardinality(p_metadata) <> v_n
     or p_expected not in ('any', 'no_stream', 'stream_exists', 'version')
     or (p_expected = 'version' and p_expected_version is null) then
    raise exception 'ordo: append_events: bad arguments' using errcode = '22023';
  end if;
  -- 1. Serialise the appends to this stream until commit (an advisory lock: see migration 1).
  perform pg_advisory_xact_lock(${streamLockClass}, hashtext(p_stream));

  -- 2. A retry: the batch's ids are already stored, consecutively and in order, in this stream.
  select e.stream_name, e.stream_version, e.global_position into v_found_stream, v_found_version, v_found_position
    from ${q}.events e where e.event_id = p_ids[1];
  if found then
    if v_found_stream = p_stream and v_n = 1 then
      status := 'retried';
      version := v_found_version;
      last_position := v_found_position;
      return;
    end if;
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

  -- 4. A transaction id, then the positions, in its order (see migration 1 for why and how).
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
    v_position := nextval('${q}.events_global_position_seq');
    if not p_exclusive and v_position <> v_before + 1 then
      status := 'interleaved';
      return;
    end if;
  else
    v_positions := array(select nextval('${q}.events_global_position_seq') from generate_series(1, v_n));
    if not p_exclusive and (v_positions[1] <> v_before + 1 or v_positions[v_n] <> v_before + v_n) then
      status := 'interleaved';
      return;
    end if;
    v_position := v_positions[v_n];
  end if;

  -- 5. Write.
  if v_current is null then
    insert into ${q}.streams (stream_name, version) values (p_stream, v_n - 1);
  else
    update ${q}.streams set version = v_current + v_n where stream_name = p_stream;
  end if;
  if v_n = 1 then
    insert into ${q}.events (global_position, event_id, stream_name, stream_version, event_type, data, metadata)
      values (v_position, p_ids[1], p_stream, coalesce(v_current, -1) + 1, p_types[1], p_data[1], p_metadata[1]);
  else
    insert into ${q}.events (global_position, event_id, stream_name, stream_version, event_type, data, metadata)
      select v_positions[i.ord], i.id, p_stream, coalesce(v_current, -1) + i.ord, i.type, i.data, i.metadata
        from unnest(p_ids, p_types, p_data, p_metadata) with ordinality as i(id, type, data, metadata, ord);
  end if;

  status := 'ok';
  version := coalesce(v_current, -1) + v_n;
  last_position := v_position;
end
$fn$;
`;
}

/**
 * Migration 4: `append_event`, the one-event append with plain (not array) arguments: the common
 * case, with no arrays to build in the client or to parse in the server. Same answers and the same
 * steps and locks as `append_events`; cheaper to run:
 * - the locks and the transaction id are taken by assignments, which PL/pgSQL evaluates as plain
 *   expressions, not as queries;
 * - the retry check and the stream's version are read by one query.
 */
export function appendEventV4({ q, streamLockClass, sequencerLockKey }: SchemaNames): string {
  return `
create function ${q}.append_event(
  p_stream text,
  p_expected text,            -- 'any' | 'no_stream' | 'stream_exists' | 'version'
  p_expected_version bigint,  -- with 'version'
  p_id uuid,
  p_type text,
  p_data json,
  p_metadata json,
  p_exclusive boolean default false,
  out status text,
  out version bigint,
  out last_position bigint,
  out duplicate_id uuid
)
language plpgsql
as $fn$
declare
  v_current bigint;
  v_found_stream text;
  v_found_version bigint;
  v_found_position bigint;
  v_before bigint;
  v_version bigint;
  v_taken text;  -- what a lock function returns (nothing): taken by assignment, not by a query
begin
  if p_id is null or p_type is null or p_data is null or p_metadata is null
     or p_expected is null or p_expected not in ('any', 'no_stream', 'stream_exists', 'version')
     or (p_expected = 'version' and p_expected_version is null) then
    raise exception 'ordo: append_event: bad arguments' using errcode = '22023';
  end if;
  -- 1. Serialise the appends to this stream until commit (an advisory lock: see migration 1).
  v_taken := pg_advisory_xact_lock(${streamLockClass}, hashtext(p_stream))::text;

  -- 2 and 3. A retry (the id is stored in this stream), a duplicate (stored elsewhere), and the
  --    stream's version, in one query: taken after the lock, so it sees the append before.
  select e.stream_name, e.stream_version, e.global_position, s.version
    into v_found_stream, v_found_version, v_found_position, v_current
    from (values (1)) as one(x)
    left join ${q}.events e on e.event_id = p_id
    left join ${q}.streams s on s.stream_name = p_stream;
  if v_found_stream is not null then
    if v_found_stream = p_stream then
      status := 'retried';
      version := v_found_version;
      last_position := v_found_position;
    else
      status := 'duplicate';
      duplicate_id := p_id;
    end if;
    return;
  end if;
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

  -- 4. A transaction id, then the position, in its order (see migration 1 for why and how).
  if pg_current_xact_id_if_assigned() is not null then
    raise exception 'ordo: append_event must be the first write of its transaction'
      using errcode = '25001';
  end if;
  if p_exclusive then
    v_taken := pg_advisory_xact_lock(${sequencerLockKey})::text;
  else
    v_taken := pg_advisory_xact_lock_shared(${sequencerLockKey})::text;
  end if;
  v_before := coalesce(pg_sequence_last_value('${q}.events_global_position_seq'::regclass), 0);
  v_taken := pg_current_xact_id()::text;
  last_position := nextval('${q}.events_global_position_seq');
  if not p_exclusive and last_position <> v_before + 1 then
    status := 'interleaved';
    last_position := null;
    return;
  end if;

  -- 5. Write. (Not one upsert for the stream row: its speculative insertion costs more than this.)
  v_version := coalesce(v_current, -1) + 1;
  if v_current is null then
    insert into ${q}.streams (stream_name, version) values (p_stream, v_version);
  else
    update ${q}.streams set version = v_version where stream_name = p_stream;
  end if;
  insert into ${q}.events (global_position, event_id, stream_name, stream_version, event_type, data, metadata)
    values (last_position, p_id, p_stream, v_version, p_type, p_data, p_metadata);
  status := 'ok';
  version := v_version;
end
$fn$;
`;
}
