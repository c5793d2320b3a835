/**
 * Vitest global setup: one PostgreSQL server for every test file. With `DATABASE_URL` set, the
 * tests use that server instead and nothing is started. Test files get the URL with
 * `inject('postgresUrl')` (see `postgres.ts`).
 */
import type { TestProject } from 'vitest/node';
import { startPostgres, type TestPostgresServer } from './postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string of the test server (or of `DATABASE_URL`). Empty when none could be had. */
    postgresUrl: string;
    /** Why there is no server, when `postgresUrl` is empty. */
    postgresUnavailable: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.DATABASE_URL;
  if (given) {
    project.provide('postgresUrl', given);
    project.provide('postgresUnavailable', '');
    return async () => undefined;
  }
  let server: TestPostgresServer | undefined;
  try {
    server = await startPostgres();
    project.provide('postgresUrl', server.url);
    project.provide('postgresUnavailable', '');
  } catch (error) {
    // Tests that need PostgreSQL fail with this reason; the others run as usual.
    project.provide('postgresUrl', '');
    project.provide('postgresUnavailable', error instanceof Error ? error.message : String(error));
  }
  return async () => {
    await server?.stop();
  };
}
