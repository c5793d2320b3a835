/**
 * The demo's command line, read with `node:util` `parseArgs`: `--store postgres` and
 * `--store=postgres` both work; an unknown flag, a stray argument or an unknown store is a
 * {@link UsageError}.
 */
import { parseArgs } from 'node:util';
import type { StoreKind } from './stores.js';

const STORE_KINDS: readonly StoreKind[] = ['memory', 'postgres', 'eventstoredb'];

/** What `pnpm demo --help` prints. */
export const DEMO_USAGE = `usage: pnpm demo [--store memory|postgres|eventstoredb]

  --store KIND  where the examples run (default memory):
                  memory        the embedded in-memory store
                  postgres      DATABASE_URL, or a throwaway server started from the PostgreSQL binaries
                  eventstoredb  EVENTSTOREDB_URL, or the in-process test server
  --help        print this and exit`;

/** The command line was wrong: the message says what, and the demo prints the usage after it. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** What the demo was asked to do. */
export type DemoArgs = { help: true } | { help: false; store: StoreKind };

/** Reads the demo's arguments (without `node` and the script). Throws {@link UsageError}. */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  let parsed;
  try {
    parsed = parseArgs({
      // pnpm may pass a `--` before the script's own arguments.
      args: argv[0] === '--' ? argv.slice(1) : [...argv],
      options: { store: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help) return { help: true };
  const store = parsed.values.store ?? 'memory';
  if (!(STORE_KINDS as readonly string[]).includes(store)) {
    throw new UsageError(`--store takes ${STORE_KINDS.join(', ')}, not "${store}"`);
  }
  return { help: false, store: store as StoreKind };
}
