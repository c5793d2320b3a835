import pg from 'pg';
import { PostgresCheckpointStore, PostgresEventStore, validateSchemaName } from '@ordo/postgres';
import { UsageError } from './usage-error.js';

/** The options every command that talks to PostgreSQL takes. */
export interface DatabaseOptions {
  url?: string;
  schema?: string;
}

/** An open connection: the store, checkpoints on the same pool, and how to close them. */
export interface Database {
  pool: pg.Pool;
  schema: string;
  store: PostgresEventStore;
  checkpoints: PostgresCheckpointStore;
  close(): Promise<void>;
}

/** The connection string from `--url` or `DATABASE_URL`, checked before anything connects. */
export function databaseUrl(options: DatabaseOptions): string {
  const url = options.url ?? process.env.DATABASE_URL;
  if (!url) throw new UsageError('No database: pass --url postgres://… or set DATABASE_URL');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`Not a URL: "${url}" (expected postgres://user:password@host:port/database)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(`Not a PostgreSQL URL: "${parsed.protocol}" (expected postgres:// or postgresql://)`);
  }
  return url;
}

/** The schema from `--schema` (default `ordo`), checked. */
export function schemaOf(options: DatabaseOptions): string {
  try {
    return validateSchemaName(options.schema ?? 'ordo');
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Opens the store. A short retry window: an operator at a terminal wants to hear that the server is
 * down in seconds, not after the service's patient default.
 */
export function openDatabase(options: DatabaseOptions): Database {
  const connectionString = databaseUrl(options);
  const schema = schemaOf(options);
  const pool = new pg.Pool({ connectionString, max: 4, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);
  const store = new PostgresEventStore({ pool, schema, retry: { windowMs: 2000 } });
  const checkpoints = new PostgresCheckpointStore({ pool, schema });
  return {
    pool,
    schema,
    store,
    checkpoints,
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

/** Runs `work` on an open database, closing it afterwards whatever happens. */
export async function withDatabase<T>(options: DatabaseOptions, work: (db: Database) => Promise<T>): Promise<T> {
  const db = openDatabase(options);
  try {
    return await work(db);
  } finally {
    await db.close().catch(() => undefined);
  }
}
