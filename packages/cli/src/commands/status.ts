import { rebuildCheckpointName } from '@ordo/core';
import { withDatabase, type DatabaseOptions } from '../connection.js';
import { renderTable, toJson } from '../table.js';

/** One projection's row in `ordo status`. */
interface ProjectionRow {
  name: string;
  position: bigint;
  lag: bigint;
  state: 'caught up' | 'behind' | 'rebuilding';
  updatedAt: string;
}

/** `ordo status`: every checkpoint with its lag behind the head of the log. */
export async function status(options: DatabaseOptions & { json?: boolean }): Promise<void> {
  await withDatabase(options, async ({ store, pool, schema }) => {
    const head = await store.headPosition();
    const { rows } = await pool.query<{ name: string; position: string; updated_at: Date }>(
      `select name, position::text as position, updated_at from "${schema}".checkpoints order by name`,
    );
    const projections = rows.map((r): ProjectionRow => {
      const position = BigInt(r.position);
      const lag = head > position ? head - position : 0n;
      const rebuilding = r.name.endsWith(rebuildCheckpointName(''));
      return { name: r.name, position, lag, state: rebuilding ? 'rebuilding' : lag === 0n ? 'caught up' : 'behind', updatedAt: r.updated_at.toISOString() };
    });
    if (options.json) {
      process.stdout.write(`${toJson({ head, projections })}\n`);
      return;
    }
    process.stdout.write(`Head of the log: ${head}\n\n`);
    if (projections.length === 0) {
      process.stdout.write('No projection has a checkpoint yet.\n');
      return;
    }
    const table = renderTable(
      ['PROJECTION', 'POSITION', 'LAG', 'STATE', 'UPDATED'],
      projections.map((p) => [p.name, String(p.position), String(p.lag), p.state, p.updatedAt]),
    );
    process.stdout.write(`${table}\n`);
  });
}
