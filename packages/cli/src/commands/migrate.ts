import { migrateOrderTables, ORDER_TABLE_MIGRATIONS } from '@ordo/orders/postgres';
import { STORE_MIGRATIONS, schemaNames, type Migration } from '@ordo/postgres';
import { schemaOf, withDatabase, type DatabaseOptions } from '../connection.js';

/** `ordo migrate`: creates or upgrades the store's schema and the order tables; `--print-sql` prints it instead. */
export async function migrate(options: DatabaseOptions & { printSql?: boolean }): Promise<void> {
  if (options.printSql) {
    process.stdout.write(migrationScript(schemaOf(options)));
    return;
  }
  await withDatabase(options, async ({ store, pool, schema }) => {
    const storeVersions = await store.migrate();
    const orderVersions = await migrateOrderTables(pool, schema);
    const said = (versions: number[]) => (versions.length === 0 ? 'up to date' : `applied ${versions.join(', ')}`);
    process.stdout.write(`schema "${schema}": event store ${said(storeVersions)}; order tables ${said(orderVersions)}\n`);
  });
}

/**
 * The SQL `ordo migrate` would run on an empty schema, for a DBA to read or run by hand: every
 * migration in its own transaction, recorded in its history table as the migration runner does.
 */
export function migrationScript(schema: string): string {
  const names = schemaNames(schema);
  const part = (title: string, table: string, migrations: readonly Migration[]) => [
    `-- ${title}: recorded in ${names.q}.${table}`,
    `create table if not exists ${names.q}.${table} (version int primary key, name text not null, applied_at timestamptz not null default now());`,
    ...migrations.map((m) =>
      [
        `-- version ${m.version}: ${m.name}`,
        'begin;',
        m.sql(names).trim(),
        `insert into ${names.q}.${table} (version, name) values (${m.version}, '${m.name.replaceAll("'", "''")}');`,
        'commit;',
      ].join('\n'),
    ),
  ];
  return [
    `-- Ordo schema "${schema}". Skip the versions already recorded in the history tables.`,
    `create schema if not exists ${names.q};`,
    ...part('the event store', 'schema_migrations', STORE_MIGRATIONS),
    ...part('the order read-model tables', 'orders_schema_migrations', ORDER_TABLE_MIGRATIONS),
    '',
  ].join('\n\n');
}
