import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { ValidationError } from '@ordo/core';
import { applyMigrationsInTransactions } from './migration-runner.js';
import { projectionLeasesTable } from './leases.js';
import { appendEventV4, appendEventsV1, appendEventsV3, appendStepsV2 } from './sql/append.sql.js';

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
    sql: (names) => {
      const { q } = names;
      return `
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

${appendEventsV1(names)}`;
    },
  },
  {
    version: 2,
    name: 'appends to several streams: append_events split into shared steps, append_multi',
    sql: appendStepsV2,
  },
  {
    version: 3,
    name: 'append_events in one function again, the one-event append without arrays',
    sql: appendEventsV3,
  },
  {
    version: 4,
    name: 'append_event: the one-event append with plain arguments',
    sql: appendEventV4,
  },
  {
    version: 5,
    name: 'projection leases: one working copy of a projection across instances',
    sql: projectionLeasesTable,
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
