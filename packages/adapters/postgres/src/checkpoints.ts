import type pg from 'pg';
import { CheckpointConflictError, ValidationError, type CheckpointStore } from '@ordo/core';
import { STORE_TYPES, checkedOut, connect, type ConnectionOptions } from './connection.js';
import { acquireLease, releaseLease } from './leases.js';
import { poolerRefusal } from './pooler.js';
import { DEFAULT_SCHEMA, migrateSchema, schemaNames, validateSchemaName, type SchemaNames } from './schema.js';

/** Options of {@link PostgresCheckpointStore}. Give `pool` or `connectionString`. */
export interface PostgresCheckpointStoreOptions extends ConnectionOptions {
  /** Schema of the `checkpoints` table: the same as the event store's. Default `ordo`. */
  schema?: string;
  /**
   * Whether a {@link PostgresCheckpointStore.transaction} waits for its commit to be flushed to
   * disk. Default `false`: the commit is asynchronous (`synchronous_commit = off` for that
   * transaction only), so the next batch does not wait for a flush. This is safe for read models
   * kept with their checkpoint: a server crash can lose only the last few such transactions whole,
   * read-model writes and checkpoint together, and the projection handles those events again from
   * the log. Set `true` to leave the commit to the connection's own `synchronous_commit` (durable
   * by the server's default), when the transaction's work must be durable the moment it returns.
   */
  synchronousCommit?: boolean;
}

/**
 * Projection checkpoints in the `checkpoints` table, every write compare-and-set.
 *
 * {@link transaction} gives the projection a `pg` client inside a transaction: what the
 * projection writes through it commits together with the checkpoint, or not at all, so a read
 * model in the same database is updated exactly once per event. The checkpoint row is
 * compare-and-set first and stays locked until commit, so a second copy of the projection waits,
 * then finds the checkpoint moved and gets a {@link CheckpointConflictError}.
 */
export class PostgresCheckpointStore implements CheckpointStore<pg.PoolClient> {
  /** The pool checkpoints are read and written on. */
  readonly pool: pg.Pool;
  /** The schema of the `checkpoints` table. */
  readonly schema: string;
  private readonly ownsPool: boolean;
  private readonly names: SchemaNames;
  private readonly synchronousCommit: boolean;

  /**
   * @throws ValidationError for a bad schema name.
   * @throws TypeError when neither `pool` nor `connectionString` is given.
   */
  constructor(options: PostgresCheckpointStoreOptions) {
    this.schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
    this.names = schemaNames(this.schema);
    const connection = connect(options);
    this.pool = connection.pool;
    this.ownsPool = connection.owned;
    this.synchronousCommit = options.synchronousCommit ?? false;
  }

  /** Creates or upgrades the schema; the same migrations as `PostgresEventStore.migrate()`. */
  async migrate(): Promise<number[]> {
    return migrateSchema(this.pool, this.names);
  }

  /**
   * The stored position, or `null` when the projection has none yet.
   * @throws ValidationError for a bad name (1–200 characters, no control characters).
   */
  async read(name: string): Promise<bigint | null> {
    checkName(name);
    return readPosition(this.pool, this.names, name);
  }

  /**
   * Stores `position` if the checkpoint is still `expected` (`null`: none), in one statement.
   * @throws CheckpointConflictError otherwise; nothing is stored.
   */
  async store(name: string, position: bigint, expected: bigint | null): Promise<void> {
    checkName(name);
    checkPositions(position, expected);
    const result = await this.pool.query(casStatement(this.names, expected), casValues(name, position, expected));
    if (result.rowCount === 1) return;
    throw new CheckpointConflictError(name, expected, await readPosition(this.pool, this.names, name));
  }

  /**
   * Forgets the checkpoint of `name` (a no-op when there is none), inside `tx` when given.
   * @throws ValidationError for a bad name.
   */
  async remove(name: string, tx?: pg.PoolClient): Promise<void> {
    checkName(name);
    await (tx ?? this.pool).query(`delete from ${this.names.q}.checkpoints where name = $1`, [name]);
  }

  /**
   * Runs `work` with a client inside BEGIN … COMMIT, together with the compare-and-set of the
   * checkpoint to `position`. If `work` throws, or the checkpoint is no longer `expected`,
   * everything is rolled back.
   * @throws CheckpointConflictError when another copy moved the checkpoint; `work` does not run.
   */
  async transaction<T>(
    name: string,
    position: bigint,
    expected: bigint | null,
    work: (tx: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    checkName(name);
    checkPositions(position, expected);
    return checkedOut(this.pool, async (client, markBroken) => {
      try {
        // Compare-and-set first: the row stays locked until commit, so a racing copy waits here and
        // then finds the checkpoint moved. Sent with the BEGIN in one round trip (the values are
        // inlined as literals: a multi-statement query takes no parameters).
        // The driver answers a multi-statement query with one result per statement: the CAS's is last.
        const begin = beginAndCas(client, this.names, name, position, expected, this.synchronousCommit);
        const results = (await client.query(begin)) as unknown as pg.QueryResult[];
        if (results[results.length - 1]!.rowCount !== 1) {
          await client.query('rollback');
          throw new CheckpointConflictError(name, expected, await readPosition(client, this.names, name));
        }
        const result = await work(client);
        await client.query('commit');
        return result;
      } catch (error) {
        // Roll back whatever is still open (a no-op after COMMIT or ROLLBACK). A connection that
        // cannot even do that is not given back to the pool.
        await client.query('rollback').catch(markBroken);
        throw poolerRefusal(error, 'A checkpoint transaction');
      }
    });
  }

  /**
   * Takes or renews the lease of `name` for `owner` until `ttlMs` from now by the server's clock:
   * true when `owner` holds it, false when another owner holds it unexpired (see `leases.ts`).
   * @throws ValidationError for a bad name, owner or ttl.
   */
  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    checkName(name);
    return acquireLease(this.pool, this.names, name, owner, ttlMs);
  }

  /**
   * Gives up the lease of `name` if `owner` holds it (a no-op otherwise).
   * @throws ValidationError for a bad name or owner.
   */
  async releaseLease(name: string, owner: string): Promise<void> {
    checkName(name);
    return releaseLease(this.pool, this.names, name, owner);
  }

  /** Ends the pool if the store made it from a connection string. */
  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

function casStatement({ q }: SchemaNames, expected: bigint | null): string {
  return expected === null
    ? `insert into ${q}.checkpoints (name, position) values ($1, $2) on conflict (name) do nothing`
    : `update ${q}.checkpoints set position = $2, updated_at = now() where name = $1 and position = $3`;
}

/**
 * `begin`, the commit's durability and the compare-and-set as one simple query (values inlined as
 * escaped literals).
 */
function beginAndCas(
  client: pg.PoolClient,
  names: SchemaNames,
  name: string,
  position: bigint,
  expected: bigint | null,
  synchronousCommit: boolean,
): string {
  const values = casValues(name, position, expected).map((v) => client.escapeLiteral(String(v)));
  const cas = casStatement(names, expected).replace(/\$(\d)/g, (_, i: string) => values[Number(i) - 1]!);
  return `begin; ${synchronousCommit ? '' : 'set local synchronous_commit = off; '}${cas}`;
}

function casValues(name: string, position: bigint, expected: bigint | null): unknown[] {
  return expected === null ? [name, position.toString()] : [name, position.toString(), expected.toString()];
}

async function readPosition(pool: pg.Pool | pg.PoolClient, { q }: SchemaNames, name: string): Promise<bigint | null> {
  const { rows } = await pool.query<{ position: string }>({
    text: `select position from ${q}.checkpoints where name = $1`,
    values: [name],
    types: STORE_TYPES,
  });
  return rows.length === 0 ? null : BigInt(rows[0]!.position);
}

function checkName(name: unknown) {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 200 ||
    /[\u0000-\u001f\u007f]/.test(name) ||
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)
  ) {
    throw new ValidationError('checkpoint', [
      { path: 'name', message: 'must be 1–200 characters of well-formed text without control characters' },
    ]);
  }
}

const INT8_MAX = 9223372036854775807n;

function checkPositions(position: unknown, expected: unknown) {
  const inRange = (value: unknown) => typeof value === 'bigint' && value >= 0n && value <= INT8_MAX;
  const issues = [];
  if (!inRange(position)) issues.push({ path: 'position', message: `must be a bigint from 0 to ${INT8_MAX}` });
  if (expected !== null && !inRange(expected)) issues.push({ path: 'expected', message: `must be null or a bigint from 0 to ${INT8_MAX}` });
  if (issues.length > 0) throw new ValidationError('checkpoint', issues);
}
