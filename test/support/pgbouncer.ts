/**
 * PgBouncer for the tests: in front of the test server (see `pgbouncer-server.ts`), and test stores
 * whose statements go through it.
 */
import pg from 'pg';
import { PostgresEventStore, type PostgresEventStoreOptions } from '@ordo/postgres';
import { startPgBouncerFor, type StartPgBouncerOptions, type TestPgBouncer } from './pgbouncer-server.js';
import { TestPostgresEventStore, postgresUrl, uniqueSchemaName } from './postgres.js';

export type { TestPgBouncer } from './pgbouncer-server.js';

/** Starts PgBouncer in front of the test server; the caller stops it. */
export function startPgBouncer(options: StartPgBouncerOptions = {}): Promise<TestPgBouncer> {
  return startPgBouncerFor(postgresUrl(), options);
}

/** A pool through `bouncer`. The caller ends it. */
export function pooledTestPool(bouncer: TestPgBouncer, config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: bouncer.url, max: 20, ...config });
  pool.on('error', () => undefined);
  return pool;
}

/** Store options for a store through a pooler in transaction mode. */
export type PooledStoreOptions = Omit<PostgresEventStoreOptions, 'pool' | 'connectionString' | 'schema'> & { pool?: pg.PoolConfig };

/**
 * A test store in a fresh schema whose statements all go through `bouncer` (`pooler:
 * 'transaction'`); `listen: true` gives it a direct LISTEN connection to the test server.
 * Its `sibling()` stores go through the bouncer too.
 */
export async function createPooledTestStore(bouncer: TestPgBouncer, options: PooledStoreOptions & { listen?: boolean } = {}) {
  const { pool: poolConfig, listen, ...rest } = options;
  const storeOptions: Omit<PostgresEventStoreOptions, 'pool' | 'schema'> = {
    pooler: 'transaction',
    ...(listen && { listenConnectionString: postgresUrl() }),
    ...rest,
  };
  const store = new PooledTestStore(bouncer, storeOptions, { ...storeOptions, pool: pooledTestPool(bouncer, poolConfig), schema: uniqueSchemaName('pgb') });
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

/** A {@link TestPostgresEventStore} whose siblings go through the same PgBouncer. */
export class PooledTestStore extends TestPostgresEventStore {
  constructor(
    private readonly bouncer: TestPgBouncer,
    private readonly siblingOptions: Omit<PostgresEventStoreOptions, 'pool' | 'schema'>,
    options: PostgresEventStoreOptions,
  ) {
    super(options);
  }

  override async sibling(options: Omit<PostgresEventStoreOptions, 'pool' | 'connectionString' | 'schema'> = {}, poolConfig: pg.PoolConfig = {}) {
    const pool = pooledTestPool(this.bouncer, poolConfig);
    const store = new PostgresEventStore({ ...this.siblingOptions, ...options, pool, schema: this.schema });
    return {
      store,
      pool,
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  }
}
