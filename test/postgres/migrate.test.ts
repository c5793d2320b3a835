/**
 * migrate(): several service instances start at once (each with its own pool), and start again.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { LATEST_SCHEMA_VERSION, PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import { STORE_MIGRATIONS } from '../../packages/adapters/postgres/src/schema.js';
import { applyMigrations, schemaNames } from '@ordo/postgres';
import { dropSchema, postgresUrl, testPool, uniqueSchemaName } from '../support/postgres.js';

describe('migrate()', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function instance(schema: string) {
    const pool = testPool({ max: 3 });
    const store = new PostgresEventStore({ pool, schema });
    cleanups.push(async () => {
      await store.close();
      await pool.end();
    });
    return store;
  }

  async function appliedVersions(schema: string): Promise<number[]> {
    const pool = testPool({ max: 1 });
    try {
      const { rows } = await pool.query<{ version: number }>(`select version from "${schema}".schema_migrations order by version`);
      return rows.map((r) => r.version);
    } finally {
      await pool.end();
    }
  }

  it('upgrades a schema at version 1 (streams written by the old append): appends, retries and appends to several streams go on', async () => {
    const schema = uniqueSchemaName('upgrade');
    const admin = testPool({ max: 1 });
    cleanups.push(async () => {
      await dropSchema(admin, schema);
      await admin.end();
    });
    const names = schemaNames(schema);
    await applyMigrations(admin, names, { table: 'schema_migrations', lockKey: names.migrationLockKey, migrations: STORE_MIGRATIONS.slice(0, 1) });
    const store = instance(schema);
    const old = [{ id: randomUUID(), type: 'Old', data: {} }];
    const first = await store.appendToStream('upgraded', old, { expectedVersion: 'no_stream' });

    expect(await store.migrate()).toEqual(STORE_MIGRATIONS.slice(1).map((m) => m.version));

    expect(await store.appendToStream('upgraded', old, { expectedVersion: 'no_stream' })).toEqual({ ...first, duplicate: true });
    expect((await store.appendToStream('upgraded', [{ id: randomUUID(), type: 'New', data: {} }], { expectedVersion: 0n })).nextExpectedVersion).toBe(1n);
    const multi = await store.appendToStreams([
      { stream: 'upgraded', events: [{ id: randomUUID(), type: 'New', data: {} }], expectedVersion: 1n },
      { stream: 'fresh', events: [{ id: randomUUID(), type: 'New', data: {} }], expectedVersion: 'no_stream' },
    ]);
    expect(multi.streams.map((s) => s.nextExpectedVersion)).toEqual([2n, 0n]);
  });

  it('run by eight instances at once, applies each migration exactly once; run again, does nothing', async () => {
    const schema = uniqueSchemaName('migrate');
    const admin = testPool({ max: 1 });
    cleanups.push(async () => {
      await dropSchema(admin, schema);
      await admin.end();
    });
    const stores = Array.from({ length: 8 }, () => instance(schema));

    const applied = await Promise.all(stores.map((s) => s.migrate()));

    const all = Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1);
    // Each migration runs in its own transaction under a transaction-level lock, so instances may
    // share the work: each applies versions in order, and together each version exactly once.
    for (const versions of applied) expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(applied.flat().sort()).toEqual(all);
    expect(await appliedVersions(schema)).toEqual(all);

    // Twice, and concurrently again: nothing to do.
    expect(await Promise.all(stores.map((s) => s.migrate()))).toEqual(stores.map(() => []));
    expect(await new PostgresCheckpointStore({ pool: admin, schema }).migrate()).toEqual([]);
    expect(await appliedVersions(schema)).toEqual(all);

    // Every instance works on the one schema.
    const stream = `order-${randomUUID()}`;
    await stores[0]!.appendToStream(stream, [{ id: randomUUID(), type: 'Placed', data: {} }], { expectedVersion: 'no_stream' });
    const read = await stores[7]!.readStream(stream);
    expect(read.version).toBe(0n);
  });

  it('different schemas migrate side by side and stay apart', async () => {
    const schemas = [uniqueSchemaName('side'), uniqueSchemaName('side')];
    const admin = testPool({ max: 1 });
    cleanups.push(async () => {
      for (const s of schemas) await dropSchema(admin, s);
      await admin.end();
    });
    const [a, b] = schemas.map((s) => instance(s));
    await Promise.all([a!.migrate(), b!.migrate(), a!.migrate(), b!.migrate()]);
    await a!.appendToStream('shared-name', [{ id: randomUUID(), type: 'InA', data: {} }], { expectedVersion: 'no_stream' });
    expect((await b!.readStream('shared-name')).version).toBeNull();
    await b!.appendToStream('shared-name', [{ id: randomUUID(), type: 'InB', data: {} }], { expectedVersion: 'no_stream' });
    expect((await a!.readStream('shared-name')).events.map((e) => e.type)).toEqual(['InA']);
  });

  it('a store made from a connection string owns its pool and ends it on close()', async () => {
    const schema = uniqueSchemaName('owned');
    const store = new PostgresEventStore({ connectionString: postgresUrl(), schema });
    const admin = testPool({ max: 1 });
    cleanups.push(async () => {
      await dropSchema(admin, schema);
      await admin.end();
    });
    await store.migrate();
    await store.appendToStream('s', [{ id: randomUUID(), type: 'T', data: {} }], { expectedVersion: 'no_stream' });
    await store.close();
    expect(store.pool.ended).toBe(true);
    await expect(store.appendToStream('s', [], { expectedVersion: 'any' })).rejects.toThrow(/closed/);
  });
});
