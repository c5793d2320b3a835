/**
 * Helpers for tests against real PostgreSQL. The server comes from the global setup
 * (`postgres-global-setup.ts`): a throwaway server started from the local binaries, or
 * `DATABASE_URL`. Each test store lives in its own fresh schema, dropped when the store closes.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { PostgresCheckpointStore, PostgresEventStore, type PostgresEventStoreOptions } from '@ordo/postgres';

/** The test server's connection string. Fails the calling test when there is no server. */
export function postgresUrl(): string {
  const url = inject('postgresUrl');
  if (!url) throw new Error(`No PostgreSQL server for the tests: ${inject('postgresUnavailable') || 'unknown reason'}`);
  return url;
}

/** A schema name no other test uses. */
export function uniqueSchemaName(label = 'test'): string {
  return `ordo_${label}_${randomBytes(6).toString('hex')}`;
}

/** A pool on the test server. The caller ends it. */
export function testPool(config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: postgresUrl(), max: 20, ...config });
  // As a service must: an idle connection that dies is dropped by the pool, not a crash.
  pool.on('error', () => undefined);
  return pool;
}

/** Drops a schema and everything in it. */
export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`drop schema if exists "${schema}" cascade`);
}

/** A {@link PostgresEventStore} in its own schema; `close()` also drops the schema and ends the pool. */
export class TestPostgresEventStore extends PostgresEventStore {
  private dropped = false;

  /** Checkpoints in the same schema, on the same pool. */
  checkpoints(): PostgresCheckpointStore {
    return new PostgresCheckpointStore({ pool: this.pool, schema: this.schema });
  }

  /** A second store on the same schema with its own pool, as another service instance would have. */
  async sibling(options: Omit<PostgresEventStoreOptions, 'pool' | 'connectionString' | 'schema'> = {}, poolConfig: pg.PoolConfig = {}) {
    const pool = testPool(poolConfig);
    const store = new PostgresEventStore({ ...options, pool, schema: this.schema });
    return {
      store,
      pool,
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  }

  override async close(): Promise<void> {
    await super.close();
    if (this.dropped) return;
    this.dropped = true;
    try {
      await dropSchema(this.pool, this.schema);
    } finally {
      await this.pool.end();
    }
  }
}

/** Makes a fresh schema, migrates it, and returns a store on it. */
export async function createTestStore(
  options: Omit<PostgresEventStoreOptions, 'pool' | 'connectionString' | 'schema'> & { pool?: pg.PoolConfig } = {},
): Promise<TestPostgresEventStore> {
  const { pool: poolConfig, ...storeOptions } = options;
  const store = new TestPostgresEventStore({ ...storeOptions, pool: testPool(poolConfig), schema: uniqueSchemaName() });
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
