import type pg from 'pg';
import {
  ValidationError,
  createProjectionRunner,
  type EventStore,
  type Projection,
  type ProjectionFailedError,
  type ProjectionRunner,
  type ProjectionRunnerOptions,
  type RecordedEvent,
} from '@ordo/core';
import {
  DEFAULT_SCHEMA,
  PostgresCheckpointStore,
  PostgresEventStore,
  STORE_TYPES,
  schemaNames,
  validateSchemaName,
} from '@ordo/postgres';
import { NOTIFICATION_STREAM_PREFIX, NotificationEvents, type NotificationChannel } from '../notifications/notifications.js';
import { decodeNotificationEvent, type NotificationEvent } from '../notifications/notification-events.js';
import { orderStream } from '../order/order-decider.js';
import { migrateOrderTables } from './schema.js';

/**
 * Lookup tables for SQL users, kept by projections that write them in the transaction that moves
 * their checkpoint (`PostgresCheckpointStore.transaction`): a table and its checkpoint always
 * agree, so every event is applied exactly once, whatever crashes or second copies come between.
 * Every write is also an upsert keyed by the row's natural key and guarded by the position of the
 * event that last changed the row, so applying an event again (a checkpoint reset by hand, a
 * replay) never moves a row back. The tables are created by {@link migrateOrderTables}.
 */

/** Where a notification is in its delivery, as the `status` column says. */
export type OutboxStatus = 'requested' | 'attempting' | 'sent' | 'failed' | 'dead_lettered';

/** Every {@link OutboxStatus}, in the order a delivery goes through them. */
export const OUTBOX_STATUSES: readonly OutboxStatus[] = ['requested', 'attempting', 'sent', 'failed', 'dead_lettered'];

/** A row of `order_numbers`: one per numbered order. */
export interface OrderNumberRow {
  /** `PREFIX-YYYYMMDD-NNNN`, the primary key. */
  number: string;
  /** The order (unique: an order has one number). */
  orderId: string;
  /** The order's day in the numbering time zone, `YYYYMMDD`. */
  day: string;
  prefix: string;
  /** Global position of the `OrderNumberAssigned` event the row comes from. */
  position: bigint;
}

/** A row of `notification_outbox`: one notification and its delivery state. */
export interface OutboxRow {
  /** The notification's dedupe key (`<order stream>:<version>:<channel>`), the primary key. */
  dedupeKey: string;
  orderId: string;
  channel: NotificationChannel;
  template: string;
  recipient: string;
  status: OutboxStatus;
  /** Attempts claimed so far (0 while `requested`). */
  attempts: number;
  /** The error of the last failed attempt, if any attempt failed. */
  lastError: string | undefined;
  /** When the notification was requested (the `NotificationRequested` event's `recordedAt`). */
  requestedAt: Date;
  /** When the event that last changed the row was recorded. */
  updatedAt: Date;
  /** Global position of the event that last changed the row. */
  position: bigint;
}

/** Anything that runs a query: a `pg.Pool`, a checked-out client, a transaction's client. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** Which schema a query helper reads. */
export interface ReadModelQueryOptions {
  /** The schema the tables live in (the event store's). Default `ordo`. */
  schema?: string;
}

/** Options of the two read-model projections. */
export interface ReadModelProjectionOptions {
  /** The schema the tables live in (the event store's). Default `ordo`. */
  schema?: string;
  /** Projection name, the key of its checkpoint. */
  name?: string;
  /**
   * The table written, in `schema` (default `order_numbers` or `notification_outbox`): a rebuild
   * writes a shadow table of the same shape, e.g. `order_numbers__rebuild`, then swaps it in.
   */
  table?: string;
}

/** Default projection name (checkpoint key) of {@link orderNumbersTableProjection}. */
export const ORDER_NUMBERS_TABLE_PROJECTION = 'read-model:order_numbers';
/** Default projection name (checkpoint key) of {@link notificationOutboxTableProjection}. */
export const NOTIFICATION_OUTBOX_TABLE_PROJECTION = 'read-model:notification_outbox';

/** The schema's quoted name, checked. */
function quotedSchema(schema: string | undefined): string {
  return schemaNames(validateSchemaName(schema ?? DEFAULT_SCHEMA)).q;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The table's quoted name, checked like a schema name (lower-case identifier, at most 63 characters). */
function quotedTable(table: string): string {
  if (!TABLE_NAME.test(table)) {
    throw new ValidationError('read-model projection', [{ path: 'table', message: 'must be a lower-case identifier of at most 63 characters' }]);
  }
  return `"${table}"`;
}

function requireTx(tx: pg.PoolClient | undefined, projection: string): pg.PoolClient {
  if (!tx || typeof tx.query !== 'function') {
    throw new TypeError(
      `Projection "${projection}" writes its table inside the checkpoint's transaction: run it with a PostgresCheckpointStore`,
    );
  }
  return tx;
}

/** An event whose data the projection cannot apply: it stops there, naming the event. */
function badEvent(event: RecordedEvent, message: string): Error {
  return new TypeError(`${event.type} at position ${event.globalPosition} (stream "${event.streamName}"): ${message}`);
}

/** The two statements that write a batch of outbox changes, each guarded by position. */
function outboxStatements(q: string, table: string): { upsert: string; update: string } {
  const upsert = `
    insert into ${q}.${table} as o
      (dedupe_key, order_id, channel, template, recipient, status, attempts, last_error, requested_at, updated_at, position)
    select * from unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int4[], $8::text[],
                         $9::timestamptz[], $10::timestamptz[], $11::int8[])
    on conflict (dedupe_key) do update
      set order_id = excluded.order_id, channel = excluded.channel, template = excluded.template,
          recipient = excluded.recipient, status = excluded.status, attempts = excluded.attempts,
          last_error = excluded.last_error, requested_at = excluded.requested_at,
          updated_at = excluded.updated_at, position = excluded.position
      where o.position < excluded.position`;
  const update = `
    update ${q}.${table} as o
      set status = u.status, attempts = u.attempts, last_error = coalesce(u.last_error, o.last_error),
          updated_at = u.updated_at, position = u.position
    from unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::timestamptz[], $6::int8[])
      as u(dedupe_key, status, attempts, last_error, updated_at, position)
    where o.dedupe_key = u.dedupe_key and o.position < u.position`;
  return { upsert, update };
}

/** Decodes a notification event with the shared schemas; a malformed one is named, with the field. */
function decodeForOutbox(event: RecordedEvent): NotificationEvent | undefined {
  try {
    return decodeNotificationEvent(event);
  } catch (error) {
    throw badEvent(event, error instanceof Error ? error.message : String(error));
  }
}

/** What a delivery event does to its row. */
function outboxEffect(event: Exclude<NotificationEvent, { type: typeof NotificationEvents.Requested }>): {
  status: OutboxStatus;
  attempts: number;
  lastError?: string;
} {
  switch (event.type) {
    case NotificationEvents.Attempted:
      return { status: 'attempting', attempts: event.data.attempt };
    case NotificationEvents.Sent:
      return { status: 'sent', attempts: event.data.attempt };
    case NotificationEvents.Failed:
      return { status: 'failed', attempts: event.data.attempt, lastError: event.data.error };
    case NotificationEvents.DeadLettered:
      return { status: 'dead_lettered', attempts: event.data.attempts, lastError: event.data.lastError };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY = /^\d{8}$/;

const isText = (value: unknown): value is string => typeof value === 'string';

/**
 * The projection that keeps `order_numbers` from the `OrderNumberAssigned` events of order streams
 * (written by the order-numbers projection of `@ordo/core`). A batch of events is one statement:
 * an upsert keyed by `number`, which changes a row only for an event later in the log than the
 * one the row holds. Run it with a `PostgresCheckpointStore`, which hands it the transaction.
 */
export function orderNumbersTableProjection(options: ReadModelProjectionOptions = {}): Projection<pg.PoolClient> {
  const q = quotedSchema(options.schema);
  const name = options.name ?? ORDER_NUMBERS_TABLE_PROJECTION;
  const table = quotedTable(options.table ?? 'order_numbers');
  const upsert = `
    insert into ${q}.${table} as o (number, order_id, day, prefix, position)
    select * from unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::int8[])
    on conflict (number) do update
      set order_id = excluded.order_id, day = excluded.day, prefix = excluded.prefix, position = excluded.position
      where o.position < excluded.position`;

  async function apply(events: readonly RecordedEvent[], tx: pg.PoolClient | undefined) {
    const client = requireTx(tx, name);
    // One row per number, the latest event's (a statement may not upsert one row twice).
    const rows = new Map<string, { orderId: string; day: string; prefix: string; position: bigint }>();
    for (const event of events) {
      const data = (event.data ?? {}) as Record<string, unknown>;
      const { number, orderId, day, prefix } = data;
      if (!isText(number) || number.length === 0) throw badEvent(event, 'no number');
      if (!isText(orderId) || !UUID.test(orderId)) throw badEvent(event, 'orderId is not a UUID');
      if (!isText(day) || !DAY.test(day)) throw badEvent(event, 'day is not YYYYMMDD');
      if (!isText(prefix)) throw badEvent(event, 'no prefix');
      rows.set(number, { orderId, day, prefix, position: event.globalPosition });
    }
    if (rows.size === 0) return;
    const values = [...rows.values()];
    await client.query(upsert, [
      [...rows.keys()],
      values.map((r) => r.orderId),
      values.map((r) => r.day),
      values.map((r) => r.prefix),
      values.map((r) => r.position.toString()),
    ]);
  }

  return {
    name,
    eventTypes: ['OrderNumberAssigned'],
    streamPrefixes: [orderStream('')],
    handleBatch: (events, { tx }) => apply(events, tx),
    handle: (event, { tx }) => apply([event], tx),
  };
}

/** What a batch does to one notification's row. */
interface OutboxChange {
  /** Present when the batch holds the notification's request: the row is written whole. */
  request?: { orderId: string; channel: string; template: string; recipient: string; requestedAt: Date };
  status: OutboxStatus;
  attempts: number;
  /** The latest error in the batch; `null`: the batch reported none. */
  lastError: string | null;
  updatedAt: Date;
  position: bigint;
}

/**
 * The projection that keeps `notification_outbox` from the events of notification streams
 * (`NotificationRequested`, `NotificationAttempted`, `NotificationSent`, `NotificationFailed`,
 * `NotificationDeadLettered`), decoded with the same schemas as the delivery decider's fold. A row appears with
 * its request; each later event sets `status` and `attempts`, a failure or dead letter sets
 * `last_error`. A batch is folded per notification first, then written with at most two
 * statements (an upsert of the notifications requested in the batch, an update of the others),
 * each changing a row only for an event later in the log than the one the row holds. Events of a
 * notification whose request the projection never saw (it started after it) change nothing.
 * Run it with a `PostgresCheckpointStore`, which hands it the transaction.
 */
export function notificationOutboxTableProjection(options: ReadModelProjectionOptions = {}): Projection<pg.PoolClient> {
  const q = quotedSchema(options.schema);
  const name = options.name ?? NOTIFICATION_OUTBOX_TABLE_PROJECTION;
  const { upsert, update } = outboxStatements(q, quotedTable(options.table ?? 'notification_outbox'));

  /** Folds the batch into one change per notification, in log order, decoding with the notification schemas. */
  function fold(events: readonly RecordedEvent[]): Map<string, OutboxChange> {
    const changes = new Map<string, OutboxChange>();
    for (const event of events) {
      const decoded = decodeForOutbox(event);
      if (!decoded) continue;
      const key = event.streamName.slice(NOTIFICATION_STREAM_PREFIX.length);
      const at = event.recordedAt;
      if (decoded.type === NotificationEvents.Requested) {
        const { orderId, channel, template, recipient } = decoded.data;
        if (!UUID.test(orderId)) throw badEvent(event, 'orderId is not a UUID');
        // A request starts the row over: everything before it in the batch is superseded.
        const request = { orderId, channel, template, recipient, requestedAt: at };
        changes.set(key, { request, status: 'requested', attempts: 0, lastError: null, updatedAt: at, position: event.globalPosition });
        continue;
      }
      const { status, attempts, lastError } = outboxEffect(decoded);
      const change = changes.get(key) ?? { status, attempts, lastError: null, updatedAt: at, position: event.globalPosition };
      change.status = status;
      change.attempts = attempts;
      if (lastError !== undefined) change.lastError = lastError;
      change.updatedAt = at;
      change.position = event.globalPosition;
      changes.set(key, change);
    }
    return changes;
  }

  async function apply(events: readonly RecordedEvent[], tx: pg.PoolClient | undefined) {
    const client = requireTx(tx, name);
    const changes = fold(events);
    const requested = [...changes].filter(([, c]) => c.request);
    const updated = [...changes].filter(([, c]) => !c.request);
    if (requested.length > 0) {
      await client.query(upsert, [
        requested.map(([key]) => key),
        requested.map(([, c]) => c.request!.orderId),
        requested.map(([, c]) => c.request!.channel),
        requested.map(([, c]) => c.request!.template),
        requested.map(([, c]) => c.request!.recipient),
        requested.map(([, c]) => c.status),
        requested.map(([, c]) => c.attempts),
        requested.map(([, c]) => c.lastError),
        requested.map(([, c]) => c.request!.requestedAt.toISOString()),
        requested.map(([, c]) => c.updatedAt.toISOString()),
        requested.map(([, c]) => c.position.toString()),
      ]);
    }
    if (updated.length > 0) {
      await client.query(update, [
        updated.map(([key]) => key),
        updated.map(([, c]) => c.status),
        updated.map(([, c]) => c.attempts),
        updated.map(([, c]) => c.lastError),
        updated.map(([, c]) => c.updatedAt.toISOString()),
        updated.map(([, c]) => c.position.toString()),
      ]);
    }
  }

  return {
    name,
    eventTypes: Object.values(NotificationEvents),
    streamPrefixes: [NOTIFICATION_STREAM_PREFIX],
    handleBatch: (events, { tx }) => apply(events, tx),
    handle: (event, { tx }) => apply([event], tx),
  };
}

// ---- queries ------------------------------------------------------------------------------------

interface OrderNumberDbRow {
  number: string;
  order_id: string;
  day: string;
  prefix: string;
  position: string;
}

interface OutboxDbRow {
  dedupe_key: string;
  order_id: string;
  channel: string;
  template: string;
  recipient: string;
  status: string;
  attempts: string;
  last_error: string | null;
  requested_ms: string;
  updated_ms: string;
  position: string;
}

const OUTBOX_COLUMNS =
  'dedupe_key, order_id, channel, template, recipient, status, attempts, last_error, position, ' +
  'floor(extract(epoch from requested_at) * 1000)::int8 as requested_ms, ' +
  'floor(extract(epoch from updated_at) * 1000)::int8 as updated_ms';

function toOrderNumberRow(row: OrderNumberDbRow): OrderNumberRow {
  return { number: row.number, orderId: row.order_id, day: row.day, prefix: row.prefix, position: BigInt(row.position) };
}

function toOutboxRow(row: OutboxDbRow): OutboxRow {
  return {
    dedupeKey: row.dedupe_key,
    orderId: row.order_id,
    channel: row.channel as NotificationChannel,
    template: row.template,
    recipient: row.recipient,
    status: row.status as OutboxStatus,
    attempts: Number(row.attempts),
    lastError: row.last_error ?? undefined,
    requestedAt: new Date(Number(row.requested_ms)),
    updatedAt: new Date(Number(row.updated_ms)),
    position: BigInt(row.position),
  };
}

function checkText(subject: string, path: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new ValidationError(subject, [{ path, message: 'must be a string' }]);
}

/**
 * The order that has `number`, from `order_numbers`, or `undefined`. One indexed lookup.
 * @throws ValidationError when `number` is not a string, or for a bad schema name.
 */
export async function findOrderIdByNumber(db: Queryable, number: string, options: ReadModelQueryOptions = {}): Promise<string | undefined> {
  const q = quotedSchema(options.schema);
  checkText('order number lookup', 'number', number);
  const { rows } = await db.query<{ order_id: string }>({
    text: `select order_id from ${q}.order_numbers where number = $1`,
    values: [number],
    types: STORE_TYPES,
  });
  return rows[0]?.order_id;
}

/**
 * The `order_numbers` row of an order, or `undefined` while it has no number (or `orderId` is not
 * a UUID). One indexed lookup.
 * @throws ValidationError when `orderId` is not a string, or for a bad schema name.
 */
export async function findOrderNumber(db: Queryable, orderId: string, options: ReadModelQueryOptions = {}): Promise<OrderNumberRow | undefined> {
  const q = quotedSchema(options.schema);
  checkText('order number lookup', 'orderId', orderId);
  if (!UUID.test(orderId)) return undefined;
  const { rows } = await db.query<OrderNumberDbRow>({
    text: `select number, order_id, day, prefix, position from ${q}.order_numbers where order_id = $1`,
    values: [orderId],
    types: STORE_TYPES,
  });
  return rows[0] && toOrderNumberRow(rows[0]);
}

/** Paging of {@link outboxByStatus}. */
export interface OutboxPage extends ReadModelQueryOptions {
  /** Only rows with a position above this one: pass the last row's `position` for the next page. */
  after?: bigint;
  /** At most this many rows (1–10,000). Default 100. */
  limit?: number;
}

/**
 * Notifications in `status`, oldest change first (by `position`), a page at a time. Uses the
 * `(status, position)` index.
 * @throws ValidationError for an unknown status, a bad `after` or `limit`, or a bad schema name.
 */
export async function outboxByStatus(db: Queryable, status: OutboxStatus, options: OutboxPage = {}): Promise<OutboxRow[]> {
  const q = quotedSchema(options.schema);
  const { after = 0n, limit = 100 } = options;
  const issues = [];
  if (!OUTBOX_STATUSES.includes(status)) issues.push({ path: 'status', message: `must be one of ${OUTBOX_STATUSES.join(', ')}` });
  if (typeof after !== 'bigint' || after < 0n || after > 9223372036854775807n) {
    issues.push({ path: 'after', message: 'must be a bigint from 0' });
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) issues.push({ path: 'limit', message: 'must be an integer from 1 to 10000' });
  if (issues.length > 0) throw new ValidationError('outbox query', issues);
  const { rows } = await db.query<OutboxDbRow>({
    text: `select ${OUTBOX_COLUMNS} from ${q}.notification_outbox
           where status = $1 and position > $2 order by position limit $3`,
    values: [status, after.toString(), limit],
    types: STORE_TYPES,
  });
  return rows.map(toOutboxRow);
}

/**
 * Every notification of an order, in the order they were requested (empty when `orderId` is not
 * a UUID).
 * @throws ValidationError when `orderId` is not a string, or for a bad schema name.
 */
export async function outboxOfOrder(db: Queryable, orderId: string, options: ReadModelQueryOptions = {}): Promise<OutboxRow[]> {
  const q = quotedSchema(options.schema);
  checkText('outbox query', 'orderId', orderId);
  if (!UUID.test(orderId)) return [];
  const { rows } = await db.query<OutboxDbRow>({
    text: `select ${OUTBOX_COLUMNS} from ${q}.notification_outbox where order_id = $1 order by requested_at, dedupe_key`,
    values: [orderId],
    types: STORE_TYPES,
  });
  return rows.map(toOutboxRow);
}

// ---- both, ready to run -------------------------------------------------------------------------

/** Options of {@link createPostgresReadModels}. */
export interface PostgresReadModelsOptions {
  /** The log the projections follow. */
  store: EventStore;
  /**
   * Where the tables and checkpoints are written. Default: the store's pool, when `store` is a
   * {@link PostgresEventStore}; required otherwise.
   */
  pool?: pg.Pool;
  /** Schema of the tables and checkpoints. Default: the store's schema, else `ordo`. */
  schema?: string;
  /** Events applied per transaction (at most). Default 500, the projection runner's. */
  checkpointEvery?: number;
  /** Projection names (checkpoint keys). Defaults {@link ORDER_NUMBERS_TABLE_PROJECTION}, {@link NOTIFICATION_OUTBOX_TABLE_PROJECTION}. */
  names?: { orderNumbers?: string; notificationOutbox?: string };
  /** Retries of a failing batch before a projection stops (see `ProjectionRunnerOptions` of `@ordo/core`). */
  retry?: ProjectionRunnerOptions['retry'];
  /** Called when a projection stops on an event it cannot apply. */
  onFailure?(error: ProjectionFailedError): void;
  /**
   * One working copy of each table's projection across service instances (see `lease` of
   * `ProjectionRunnerOptions`): each runner holds its projection's lease, and the copies in other
   * instances stand by. Default: none; every copy works, and the checkpoint lets one apply each batch.
   */
  lease?: ProjectionRunnerOptions['lease'];
}

/** The two lookup tables, their runners, and queries bound to the pool and schema. */
export interface PostgresReadModels {
  /** The checkpoint store both runners use (compare-and-set, one transaction per batch). */
  readonly checkpoints: PostgresCheckpointStore;
  /** Keeps `order_numbers`. */
  readonly orderNumbers: ProjectionRunner;
  /** Keeps `notification_outbox`. */
  readonly notificationOutbox: ProjectionRunner;
  /** Creates or upgrades the checkpoints table and the two lookup tables. */
  migrate(): Promise<number[]>;
  /** Starts both runners, each from its checkpoint. */
  start(): Promise<void>;
  /** Stops both runners; what they applied is committed. */
  stop(): Promise<void>;
  /** Waits until both tables reflect the log as it is now. */
  waitUntilCaughtUp(options?: { timeoutMs?: number }): Promise<void>;
  /** {@link findOrderIdByNumber} on this pool and schema. */
  findOrderIdByNumber(number: string): Promise<string | undefined>;
  /** {@link findOrderNumber} on this pool and schema. */
  findOrderNumber(orderId: string): Promise<OrderNumberRow | undefined>;
  /** {@link outboxByStatus} on this pool and schema. */
  outboxByStatus(status: OutboxStatus, page?: Omit<OutboxPage, 'schema'>): Promise<OutboxRow[]>;
  /** {@link outboxOfOrder} on this pool and schema. */
  outboxOfOrder(orderId: string): Promise<OutboxRow[]>;
}

/**
 * Sets up both lookup tables over a store: a {@link PostgresCheckpointStore} and a projection
 * runner for each table. Run as many copies as you like (one per service instance): the
 * checkpoint's compare-and-set lets one copy apply each batch, and the others follow; with
 * `lease`, one copy works and the others stand by.
 *
 * @example
 * const readModels = createPostgresReadModels({ store });
 * await readModels.migrate();
 * await readModels.start();
 * const orderId = await readModels.findOrderIdByNumber('ORD-20261123-0042');
 *
 * @throws TypeError when no pool is given and `store` is not a PostgresEventStore.
 * @throws ValidationError for a bad schema name.
 */
export function createPostgresReadModels(options: PostgresReadModelsOptions): PostgresReadModels {
  const { store } = options;
  const own = store instanceof PostgresEventStore ? store : undefined;
  const pool = options.pool ?? own?.pool;
  if (!pool) throw new TypeError('Give `pool` (a pg.Pool on the database that holds the tables), or a PostgresEventStore as `store`');
  const schema = validateSchemaName(options.schema ?? own?.schema ?? DEFAULT_SCHEMA);
  const checkpoints = new PostgresCheckpointStore({ pool, schema });
  const runner = (projection: Projection<pg.PoolClient>) =>
    createProjectionRunner<pg.PoolClient>({
      store,
      checkpoints,
      projection,
      ...(options.checkpointEvery !== undefined && { checkpointEvery: options.checkpointEvery }),
      ...(options.retry && { retry: options.retry }),
      ...(options.onFailure && { onFailure: options.onFailure }),
      ...(options.lease && { lease: options.lease }),
    });
  const orderNumbers = runner(orderNumbersTableProjection({ schema, ...(options.names?.orderNumbers && { name: options.names.orderNumbers }) }));
  const notificationOutbox = runner(
    notificationOutboxTableProjection({ schema, ...(options.names?.notificationOutbox && { name: options.names.notificationOutbox }) }),
  );
  const runners = [orderNumbers, notificationOutbox];
  return {
    checkpoints,
    orderNumbers,
    notificationOutbox,
    async migrate() {
      await checkpoints.migrate();
      return migrateOrderTables(pool, schema);
    },
    async start() {
      await Promise.all(runners.map((r) => r.start()));
    },
    async stop() {
      await Promise.all(runners.map((r) => r.stop()));
    },
    async waitUntilCaughtUp(opts) {
      await Promise.all(runners.map((r) => r.waitUntilCaughtUp(opts)));
    },
    findOrderIdByNumber: (number) => findOrderIdByNumber(pool, number, { schema }),
    findOrderNumber: (orderId) => findOrderNumber(pool, orderId, { schema }),
    outboxByStatus: (status, page = {}) => outboxByStatus(pool, status, { ...page, schema }),
    outboxOfOrder: (orderId) => outboxOfOrder(pool, orderId, { schema }),
  };
}
