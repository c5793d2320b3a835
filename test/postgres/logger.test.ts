/**
 * The PostgreSQL store reports what it survives instead of swallowing it: an idle pooled connection
 * that the server closes is logged at warn through the `logger` option.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { expect, it } from 'vitest';
import type { Logger } from '@ordo/core';
import { PostgresEventStore } from '@ordo/postgres';
import { dropSchema, postgresUrl, testPool, uniqueSchemaName } from '../support/postgres.js';
import { waitUntil } from '../support/wait.js';

it('logs an idle pooled connection that the server terminated, at warn, and keeps working', async () => {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const logger: Logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (fields, message) => void warnings.push({ fields, message }) };
  const app = `ordo-log-${randomUUID().slice(0, 8)}`;
  const schema = uniqueSchemaName('logger');
  const store = new PostgresEventStore({ connectionString: postgresUrl(), poolConfig: { application_name: app, idleTimeoutMillis: 0 }, schema, logger });
  const admin = new pg.Client({ connectionString: postgresUrl() });
  await admin.connect();
  try {
    await store.migrate();
    await store.appendToStream('logged-1', [{ id: randomUUID(), type: 'Tested', data: {} }], { expectedVersion: 'no_stream' });
    // A read makes sure some pooled connection is idle (a connection in use reports its loss to its
    // statement instead).
    await store.readStream('logged-1');
    // The notification after the append goes out on a connection of its own: once it has, leave
    // that one alone, so that it cannot fall back to the pool while the pool's connections go.
    const notifying = `%pg_notify%`;
    await waitUntil(
      async () =>
        (await admin.query(`select 1 from pg_stat_activity where application_name = $1 and state = 'idle' and query like $2`, [app, notifying])).rowCount === 1,
      'the notification to be sent',
    );
    // The pool keeps its idle connections (no idle timeout), so terminating them is what the pool sees.
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and query not like $2', [app, notifying]);
    await waitUntil(() => warnings.length > 0, 'the warning');
    expect(warnings[0]!.message).toMatch(/idle PostgreSQL connection lost/);
    expect(warnings[0]!.fields.err).toBeInstanceOf(Error);
    await waitUntil(async () => (await store.readStream('logged-1').then(() => true, () => false)), 'a read on a fresh connection');
  } finally {
    await store.close();
    const pool = testPool();
    await dropSchema(pool, schema).finally(() => pool.end());
    await admin.end();
  }
});
