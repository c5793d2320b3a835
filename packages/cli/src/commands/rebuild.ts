import type pg from 'pg';
import { rebuildCheckpointName, rebuildProjection, type Projection, type RebuildOptions } from '@ordo/core';
import { orderNumbersProjection } from '@ordo/orders';
import { NOTIFICATION_OUTBOX_TABLE_PROJECTION, ORDER_NUMBERS_TABLE_PROJECTION, orderTableRebuild } from '@ordo/orders/postgres';
import { withDatabase, type Database, type DatabaseOptions } from '../connection.js';
import { progressView } from '../progress.js';
import { EXIT, UsageError } from '../usage-error.js';

/** The projection `ordo rebuild` knows, by checkpoint name. */
export const ORDER_NUMBERS_PROJECTION = 'order-numbers';
const KNOWN = [ORDER_NUMBERS_TABLE_PROJECTION, NOTIFICATION_OUTBOX_TABLE_PROJECTION, ORDER_NUMBERS_PROJECTION];

/** Options of `ordo rebuild`. */
export interface RebuildCommandOptions extends DatabaseOptions {
  dryRun?: boolean;
  batchSize?: string;
  prefix?: string;
  timeZone?: string;
  /** Milliseconds between progress lines when not on a terminal. Default 2000. */
  progressEvery?: string;
}

/** What rebuilding `name` takes, on this database. */
function rebuildOf(name: string, db: Database, options: RebuildCommandOptions): RebuildOptions<pg.PoolClient> {
  const batchSize = options.batchSize === undefined ? undefined : Number(options.batchSize);
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new UsageError(`--batch-size must be a positive whole number, not "${options.batchSize}"`);
  }
  const sized = batchSize === undefined ? {} : { batchSize };
  const { store, pool, schema, checkpoints } = db;
  if (name === ORDER_NUMBERS_TABLE_PROJECTION) return orderTableRebuild({ store, pool, schema, table: 'order_numbers', ...sized });
  if (name === NOTIFICATION_OUTBOX_TABLE_PROJECTION) {
    return orderTableRebuild({ store, pool, schema, table: 'notification_outbox', ...sized });
  }
  // Its effects are appends with ids derived from the cause: a replay under a shadow checkpoint
  // re-derives every number and the store absorbs the repeats. Nothing to swap.
  const projection = orderNumbersProjection({
    store,
    name,
    ...(options.prefix && { prefix: options.prefix }),
    ...(options.timeZone && { timeZone: options.timeZone }),
  });
  return { store, checkpoints, projection: projection as Projection<pg.PoolClient>, ...sized };
}

/** `ordo rebuild <projection>`: replays it from the start beside the live service; Ctrl-C stops it resumably. */
export async function rebuild(name: string, options: RebuildCommandOptions): Promise<number> {
  if (!KNOWN.includes(name)) throw new UsageError(`Unknown projection "${name}"; known: ${KNOWN.join(', ')}`);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const view = progressView(`rebuild ${name}`, options.progressEvery === undefined ? 2000 : Number(options.progressEvery));
  try {
    return await withDatabase(options, async (db) => {
      const plan = rebuildOf(name, db, options);
      try {
        const result = await rebuildProjection(plan, { signal: abort.signal, dryRun: !!options.dryRun, onProgress: (p) => view.update(p) });
        view.stop();
        const resumed = result.from > 0n ? ` (resumed at position ${result.from})` : '';
        if (result.dryRun) {
          process.stdout.write(`Dry run of ${name}: ${result.handled} events to handle from position ${result.from} to ${result.position}; nothing written.\n`);
        } else {
          const how = result.swapped ? 'swapped in under the live checkpoint' : 'replayed (effects re-derived; repeats absorbed)';
          process.stdout.write(`Rebuilt ${name}: ${result.handled} events handled up to position ${result.position}${resumed}; ${how}.\n`);
        }
        return EXIT.ok;
      } catch (error) {
        view.stop();
        if (!abort.signal.aborted) throw error;
        const at = await db.checkpoints.read(rebuildCheckpointName(name)).catch(() => null);
        process.stderr.write(
          `Interrupted: the rebuild of ${name} stopped cleanly${at === null ? '' : ` at position ${at}`}. ` +
            `Run \`ordo rebuild ${name}\` again to resume.\n`,
        );
        return EXIT.interrupted;
      }
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
