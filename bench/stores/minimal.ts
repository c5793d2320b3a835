/**
 * The minimal store: the ceiling a Node client with `pg` can reach on this machine. One table,
 * one prepared (named) INSERT per append on a checked-out client, so one round trip (a batch is one
 * INSERT over arrays), the same pool size as the others, and `unique(stream, version)` as its only check: a writer that lost a race gets a unique violation. No stream
 * table, no idempotency, no gap-free log (its catch-up pages by position, which is only safe
 * once writers have stopped, as they have in the catch-up scenario).
 */
import pg from 'pg';
import { backoffMs, POOL_SIZE, RETRY, type BenchEvent, type BenchStore, type CatchUpOptions, type CommandOutcome } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  global_position bigint GENERATED ALWAYS AS IDENTITY,
  stream text NOT NULL,
  version bigint NOT NULL,
  id uuid NOT NULL,
  type text NOT NULL,
  data json NOT NULL,
  metadata json NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream, version)
);
CREATE INDEX IF NOT EXISTS events_global_position ON events (global_position);
`;

const INSERT = `
INSERT INTO events (stream, version, id, type, data, metadata)
SELECT $1, $2::bigint + o - 1, e.id, e.type, e.data, e.metadata
FROM unnest($3::uuid[], $4::text[], $5::json[], $6::json[]) WITH ORDINALITY AS e(id, type, data, metadata, o)`;

class Conflict extends Error {}

interface Row {
  global_position: string;
  version: string;
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recorded_at: Date;
}

function toRecorded(stream: string, row: Row) {
  return {
    id: row.id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    streamName: stream,
    streamVersion: BigInt(row.version),
    globalPosition: BigInt(row.global_position),
    recordedAt: row.recorded_at,
  };
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function createMinimalStore(url: string): Promise<BenchStore> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  await pool.query(SCHEMA);

  async function append(stream: string, events: BenchEvent[], expected: number): Promise<void> {
    // A checked-out client: `pool.query` would throw away the connection on a unique violation.
    const client = await pool.connect();
    try {
      await client.query({
        name: 'minimal_append',
        text: INSERT,
        values: [
          stream,
          expected,
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => JSON.stringify(e.metadata)),
        ],
      });
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new Conflict(`conflict on ${stream}`);
      throw error;
    } finally {
      client.release();
    }
  }

  async function readFrom(stream: string, fromVersion: number): Promise<Record<string, unknown>[]> {
    // Everything a recorded event carries, as the other stores read it.
    const { rows } = await pool.query<Row>({
      name: 'minimal_read_stream',
      text: `SELECT global_position, version, id, type, data, metadata, recorded_at
             FROM events WHERE stream = $1 AND version >= $2 ORDER BY version`,
      values: [stream, fromVersion],
    });
    return rows.map((row) => toRecorded(stream, row).data);
  }

  return {
    name: 'minimal',
    append,
    readStream: (stream) => readFrom(stream, 0),
    async command(stream, writer): Promise<CommandOutcome> {
      // The same shape as Ordo's handler: read the stream, decide, append at the version read;
      // on a conflict wait, read only what was missed, decide again.
      let count = (await readFrom(stream, 0)).length;
      for (let attempt = 1; ; attempt++) {
        const event: BenchEvent = {
          id: crypto.randomUUID(),
          type: 'Incremented',
          data: { n: count + 1, writer },
          metadata: {},
        };
        try {
          await append(stream, [event], count);
          return { attempts: attempt };
        } catch (error) {
          if (!(error instanceof Conflict)) return { attempts: attempt, error };
          if (attempt >= RETRY.maxAttempts) return { attempts: attempt, error };
          await sleep(backoffMs(attempt));
          count += (await readFrom(stream, count)).length;
        }
      }
    },
    async catchUp({ onEvent }: CatchUpOptions) {
      let after = 0n;
      for (;;) {
        const { rows } = await pool.query<Row & { stream: string }>({
          name: 'minimal_read_log',
          text: `SELECT global_position, stream, version, id, type, data, metadata, recorded_at
                 FROM events WHERE global_position > $1 ORDER BY global_position LIMIT 500`,
          values: [after.toString()],
        });
        if (rows.length === 0) return;
        for (const row of rows) onEvent(toRecorded(row.stream, row).data);
        after = BigInt(rows[rows.length - 1]!.global_position);
      }
    },
    close: () => pool.end(),
  };
}
