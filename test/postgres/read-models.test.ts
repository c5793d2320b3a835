/**
 * The SQL lookup tables (`order_numbers`, `notification_outbox`) kept by projections in the
 * transaction of their checkpoint: they match the log after random workloads, with restarts,
 * copies racing and connections killed between a batch's writes and its checkpoint; every event
 * is applied exactly once; replaying old events never moves a row back; and the tables answer
 * lookups.
 *
 * Exactly once is checked with an audit table next to the read models: each projection here also
 * inserts one row per event it applies, in the same transaction, with no key that would absorb a
 * second application (the read models' own upserts would).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MemoryCheckpointStore,
  ProjectionFailedError,
  START,
  ValidationError,
  createProjectionRunner,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type Projection,
  type ProjectionRunner,
  type RecordedEvent,
} from '@ordo/core';
import {
  NotificationEvents,
  createNotifications,
  createOrderNumbers,
  createOrderService,
  findOrderByNumber,
  notificationStream,
  orderStream,
  type OrderNumberAssigned,
} from '@ordo/orders';
import { LATEST_SCHEMA_VERSION, PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import {
  createPostgresReadModels,
  findOrderIdByNumber,
  findOrderNumber,
  migrateOrderTables,
  NOTIFICATION_OUTBOX_TABLE_PROJECTION,
  notificationOutboxTableProjection,
  ORDER_NUMBERS_TABLE_PROJECTION,
  ORDER_TABLES_VERSION,
  type OrderNumberRow,
  orderNumbersTableProjection,
  outboxByStatus,
  outboxOfOrder,
  type OutboxRow,
  type OutboxStatus,
} from '@ordo/orders/postgres';
import { orderInput, prng } from '../projections/helpers.js';
import { createTestStore, testPool, type TestPostgresEventStore } from '../support/postgres.js';
import { gate, waitUntil } from '../support/wait.js';

/** A fresh store schema with the order tables beside it. */
async function createOrdersTestStore(options?: Parameters<typeof createTestStore>[0]): Promise<TestPostgresEventStore> {
  const store = await createTestStore(options);
  await migrateOrderTables(store.pool, store.schema);
  return store;
}

// ---- the tables as the log says they must be: a reference model, one event at a time ----------

const NOTIFICATION_TYPES: readonly string[] = Object.values(NotificationEvents);

/** Which events each table reads (its projection's filter). */
const reads = {
  [ORDER_NUMBERS_TABLE_PROJECTION]: (e: RecordedEvent) => e.type === 'OrderNumberAssigned' && e.streamName.startsWith('order-'),
  [NOTIFICATION_OUTBOX_TABLE_PROJECTION]: (e: RecordedEvent) => NOTIFICATION_TYPES.includes(e.type) && e.streamName.startsWith('notification-'),
};

function modelOrderNumbers(log: readonly RecordedEvent[]): Map<string, OrderNumberRow> {
  const rows = new Map<string, OrderNumberRow>();
  for (const e of log.filter(reads[ORDER_NUMBERS_TABLE_PROJECTION])) {
    const d = e.data as OrderNumberAssigned;
    rows.set(d.number, { number: d.number, orderId: d.orderId, day: d.day, prefix: d.prefix, position: e.globalPosition });
  }
  return rows;
}

function modelOutbox(log: readonly RecordedEvent[]): Map<string, OutboxRow> {
  const rows = new Map<string, OutboxRow>();
  for (const e of log.filter(reads[NOTIFICATION_OUTBOX_TABLE_PROJECTION])) {
    const key = e.streamName.slice('notification-'.length);
    const d = e.data as Pick<OutboxRow, 'orderId' | 'channel' | 'template' | 'recipient'> & {
      attempt: number;
      attempts: number;
      error: string;
      lastError: string;
    };
    if (e.type === NotificationEvents.Requested) {
      rows.set(key, {
        dedupeKey: key,
        orderId: d.orderId,
        channel: d.channel,
        template: d.template,
        recipient: d.recipient,
        status: 'requested',
        attempts: 0,
        lastError: undefined,
        requestedAt: e.recordedAt,
        updatedAt: e.recordedAt,
        position: e.globalPosition,
      });
      continue;
    }
    const row = rows.get(key);
    if (!row) continue;
    const change: Partial<OutboxRow> =
      e.type === NotificationEvents.Attempted
        ? { status: 'attempting', attempts: d.attempt }
        : e.type === NotificationEvents.Sent
          ? { status: 'sent', attempts: d.attempt }
          : e.type === NotificationEvents.Failed
            ? { status: 'failed', attempts: d.attempt, lastError: d.error }
            : { status: 'dead_lettered', attempts: d.attempts, lastError: d.lastError };
    Object.assign(row, change, { updatedAt: e.recordedAt, position: e.globalPosition });
  }
  return rows;
}

/** `order_numbers` as stored, read with plain SQL. */
async function orderNumbersTable(pool: pg.Pool, schema: string): Promise<Map<string, OrderNumberRow>> {
  const { rows } = await pool.query<{ number: string; order_id: string; day: string; prefix: string; position: string }>(
    `select number, order_id, day, prefix, position::text from "${schema}".order_numbers`,
  );
  return new Map(rows.map((r) => [r.number, { number: r.number, orderId: r.order_id, day: r.day, prefix: r.prefix, position: BigInt(r.position) }]));
}

/** `notification_outbox` as stored, read with plain SQL. */
async function outboxTable(pool: pg.Pool, schema: string): Promise<Map<string, OutboxRow>> {
  const { rows } = await pool.query(
    `select dedupe_key, order_id, channel, template, recipient, status, attempts, last_error, position::text,
            floor(extract(epoch from requested_at) * 1000)::text as requested_ms,
            floor(extract(epoch from updated_at) * 1000)::text as updated_ms
     from "${schema}".notification_outbox`,
  );
  return new Map(
    rows.map((r) => [
      r.dedupe_key,
      {
        dedupeKey: r.dedupe_key,
        orderId: r.order_id,
        channel: r.channel,
        template: r.template,
        recipient: r.recipient,
        status: r.status,
        attempts: r.attempts,
        lastError: r.last_error ?? undefined,
        requestedAt: new Date(Number(r.requested_ms)),
        updatedAt: new Date(Number(r.updated_ms)),
        position: BigInt(r.position),
      } satisfies OutboxRow,
    ]),
  );
}

async function readWholeLog(store: EventStore): Promise<RecordedEvent[]> {
  const log: RecordedEvent[] = [];
  for await (const event of store.readAll({ after: START })) log.push(event);
  return log;
}

async function inTransaction(pool: pg.Pool, work: (tx: pg.PoolClient) => Promise<void>) {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await work(client);
    await client.query('commit');
  } finally {
    client.release();
  }
}

/** Both tables equal the reference model of `log`. */
async function expectTablesToMatch(pool: pg.Pool, schema: string, log: readonly RecordedEvent[]) {
  expect(await orderNumbersTable(pool, schema)).toEqual(modelOrderNumbers(log));
  expect(await outboxTable(pool, schema)).toEqual(modelOutbox(log));
}

// ---- projections that also write an audit row per event applied --------------------------------

async function createAuditTable(pool: pg.Pool, schema: string) {
  await pool.query(`create table "${schema}".applied (projection text not null, position bigint not null, copy text not null, attempt uuid not null)`);
}

interface AuditOptions {
  schema: string;
  copy: string;
  /** Transactions (1-based, counted per projection instance) whose connection is killed after the writes, before the commit. */
  killAt?: ReadonlySet<number>;
  /** Attempt ids of the killed transactions: none may ever show in the audit table. */
  killed?: string[];
  /** Runs after the writes and the audit row, still inside the transaction. */
  afterWrites?: (events: readonly RecordedEvent[]) => Promise<void>;
  /** Called instead of applying, once the simulated process is gone. */
  dead?: () => boolean;
}

function audited(inner: Projection<pg.PoolClient>, options: AuditOptions): Projection<pg.PoolClient> {
  let transactions = 0;
  return {
    name: inner.name,
    ...(inner.eventTypes && { eventTypes: inner.eventTypes }),
    ...(inner.streamPrefixes && { streamPrefixes: inner.streamPrefixes }),
    async handleBatch(events, context) {
      if (options.dead?.()) throw new Error('the process is gone');
      const attempt = randomUUID();
      const n = ++transactions;
      await inner.handleBatch!(events, context);
      await context.tx.query(
        `insert into "${options.schema}".applied (projection, position, copy, attempt) select $1, p, $2, $3 from unnest($4::int8[]) p`,
        [inner.name, options.copy, attempt, events.map((e) => e.globalPosition.toString())],
      );
      await options.afterWrites?.(events);
      if (options.killAt?.has(n)) {
        options.killed?.push(attempt);
        // The connection dies between the projection's output and the commit of its checkpoint.
        await context.tx.query('select pg_terminate_backend(pg_backend_pid())');
        throw new Error('unreachable: the connection was terminated');
      }
    },
  };
}

/**
 * Every event a table reads was applied exactly once (by whichever copy), none of the killed
 * transactions left a row, and nothing else was applied.
 */
async function expectExactlyOnce(pool: pg.Pool, schema: string, log: readonly RecordedEvent[], killed: readonly string[], upTo?: Record<string, bigint | null>) {
  const { rows } = await pool.query<{ projection: string; p: string; n: number }>(
    `select projection, position::text as p, count(*)::int as n from "${schema}".applied group by projection, position order by position`,
  );
  for (const [name, filter] of Object.entries(reads)) {
    const limit = upTo ? upTo[name] ?? START : undefined;
    const expected = log.filter((e) => filter(e) && (limit === undefined || e.globalPosition <= limit)).map((e) => e.globalPosition);
    const applied = rows.filter((r) => r.projection === name);
    expect(applied.filter((r) => r.n !== 1), `${name}: applied more than once`).toEqual([]);
    expect(applied.map((r) => BigInt(r.p)), name).toEqual(expected);
  }
  const leaked = await pool.query<{ n: number }>(`select count(*)::int as n from "${schema}".applied where attempt = any($1::uuid[])`, [killed]);
  expect(leaked.rows[0]!.n).toBe(0);
}

// ---- random workloads ---------------------------------------------------------------------------

type Step = 'attempt' | 'fail' | 'sent' | 'dead';

interface Workload {
  /** Orders: numbered on a day and prefix, with a few other events of their own. */
  orders: { day: number; prefix: number; changes: number }[];
  /** Notifications: the steps of each delivery after its request. */
  notifications: Step[][];
  /** Concurrent writers. */
  lanes: number;
  seed: number;
}

interface Append {
  stream: string;
  events: NewEvent[];
  expectedVersion: ExpectedVersion;
}

const event = (type: string, data: Record<string, unknown>): NewEvent => ({ id: randomUUID(), type, data });

/** Each entity's appends, in the order they must happen; entities are independent of each other. */
function appendsOf(workload: Workload): Append[][] {
  const random = prng(workload.seed);
  const entities: Append[][] = [];
  const sequences = new Map<string, number>();
  for (const order of workload.orders) {
    const orderId = randomUUID();
    const stream = orderStream(orderId);
    const prefix = `P${order.prefix}`;
    const day = `2026112${order.day}`;
    const sequence = (sequences.get(`${prefix}/${day}`) ?? 0) + 1;
    sequences.set(`${prefix}/${day}`, sequence);
    const number = `${prefix}-${day}-${String(sequence).padStart(4, '0')}`;
    entities.push([
      { stream, events: [event('OrderPlaced', { orderId })], expectedVersion: 'no_stream' },
      // The numbering stream's own event: another type, under the same stream prefix.
      { stream: `order-numbers-${prefix}-${day}`, events: [event('NumberAssigned', { orderId, number })], expectedVersion: 'any' },
      { stream, events: [event('OrderNumberAssigned', { orderId, number, prefix, day })], expectedVersion: 0n },
      ...Array.from({ length: order.changes }, (_, k) => ({
        stream,
        events: [event('OrderStatusChanged', { orderId, k })],
        expectedVersion: BigInt(1 + k) as ExpectedVersion,
      })),
    ]);
  }
  for (const [k, steps] of workload.notifications.entries()) {
    const orderId = randomUUID();
    const key = `${orderStream(orderId)}:${k}:${k % 2 === 0 ? 'email' : 'sms'}`;
    const stream = notificationStream(key);
    const events: NewEvent[] = [
      event(NotificationEvents.Requested, {
        dedupeKey: key,
        orderId,
        channel: k % 2 === 0 ? 'email' : 'sms',
        template: `template-${k}`,
        recipient: k % 2 === 0 ? `c${k}@example.com` : '+4915112345678',
        status: 'placed',
        causedBy: { eventId: randomUUID(), stream: orderStream(orderId), version: String(k) },
      }),
    ];
    let attempt = 0;
    for (const step of steps) {
      if (step === 'attempt') {
        events.push(event(NotificationEvents.Attempted, { attempt: ++attempt, leaseUntil: '2026-11-23T12:00:00.000Z', dispatcher: 'd' }));
      } else if (step === 'fail') {
        events.push(event(NotificationEvents.Failed, { attempt, error: `provider said no to ${attempt}`, retryAt: '2026-11-23T12:00:01.000Z' }));
      } else if (step === 'sent') {
        events.push(event(NotificationEvents.Sent, { attempt }));
        break;
      } else {
        events.push(event(NotificationEvents.DeadLettered, { attempts: attempt, lastError: `gave up after ${attempt}` }));
        break;
      }
    }
    // One or two events per append (a claim and its report together, now and then), at exact versions.
    const appends: Append[] = [];
    for (let v = 0; v < events.length; ) {
      const size = v > 0 && v + 1 < events.length && random() < 0.3 ? 2 : 1;
      appends.push({ stream, events: events.slice(v, v + size), expectedVersion: v === 0 ? 'no_stream' : BigInt(v - 1) });
      v += size;
    }
    entities.push(appends);
  }
  // The outbox's event type in a stream it does not read.
  entities.push([{ stream: `notifications-log-${workload.seed}`, events: [event(NotificationEvents.Requested, { orderId: randomUUID() })], expectedVersion: 'any' }]);
  return entities;
}

/** Runs the appends on `lanes` concurrent writers; `after(lane, step)` runs after each append. */
async function write(store: EventStore, entities: Append[][], lanes: number, after: (lane: number, step: number) => Promise<void> = async () => undefined) {
  const byLane: Append[][][] = Array.from({ length: lanes }, () => []);
  entities.forEach((appends, i) => byLane[i % lanes]!.push([...appends]));
  await Promise.all(
    byLane.map(async (queues, lane) => {
      let step = 0;
      while (queues.some((q) => q.length > 0)) {
        for (const queue of queues) {
          const append = queue.shift();
          if (!append) continue;
          await store.appendToStream(append.stream, append.events, { expectedVersion: append.expectedVersion });
          await after(lane, step++);
        }
      }
    }),
  );
}

const stepArb = fc.constantFrom<Step>('attempt', 'attempt', 'fail', 'sent', 'dead');
const workloadArb = (maxOrders: number, maxNotifications: number): fc.Arbitrary<Workload> =>
  fc.record({
    orders: fc.array(fc.record({ day: fc.integer({ min: 0, max: 2 }), prefix: fc.integer({ min: 0, max: 1 }), changes: fc.integer({ min: 0, max: 2 }) }), {
      maxLength: maxOrders,
      size: 'medium',
    }),
    notifications: fc.array(fc.array(stepArb, { maxLength: 7 }), { maxLength: maxNotifications, size: 'medium' }),
    lanes: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer(),
  });

/** One service instance running both table projections: its own pool, event store and checkpoint store. */
interface Copy {
  runners: ProjectionRunner[];
  restart(fresh: boolean): Promise<void>;
  close(): Promise<void>;
}

function openCopy(
  schema: string,
  name: string,
  options: { checkpointEvery: number; killAt?: ReadonlySet<number>; killed?: string[]; projections?: Projection<pg.PoolClient>[] },
): Copy {
  const pool = testPool({ max: 4 });
  const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
  const checkpoints = new PostgresCheckpointStore({ pool, schema });
  const make = () =>
    [orderNumbersTableProjection({ schema }), notificationOutboxTableProjection({ schema })].map((projection) =>
      createProjectionRunner<pg.PoolClient>({
        store,
        checkpoints,
        checkpointEvery: options.checkpointEvery,
        projection: audited(projection, { schema, copy: name, ...(options.killAt && { killAt: options.killAt }), ...(options.killed && { killed: options.killed }) }),
      }),
    );
  const copy: Copy = {
    runners: make(),
    async restart(fresh) {
      await Promise.all(copy.runners.map((r) => r.stop()));
      if (fresh) copy.runners = make();
      await Promise.all(copy.runners.map((r) => r.start()));
    },
    async close() {
      await Promise.all(copy.runners.map((r) => r.stop()));
      await store.close();
      await pool.end();
    },
  };
  return copy;
}

interface Scenario {
  workload: Workload;
  copies: { checkpointEvery: number; kills: number[] }[];
  restarts: { copy: number; at: number; fresh: boolean }[];
  /** A slice of the log applied again over the finished tables: where it starts (an index into the log) and its length. */
  replayFrom: number;
  replayEvery: number;
}

const scenarioArb = (maxOrders: number, maxNotifications: number): fc.Arbitrary<Scenario> =>
  fc.record({
    workload: workloadArb(maxOrders, maxNotifications),
    copies: fc.array(
      fc.record({ checkpointEvery: fc.integer({ min: 1, max: 12 }), kills: fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 3 }) }),
      { minLength: 1, maxLength: 3 },
    ),
    restarts: fc.array(fc.record({ copy: fc.nat(), at: fc.nat({ max: 30 }), fresh: fc.boolean() }), { maxLength: 3 }),
    replayFrom: fc.nat(),
    replayEvery: fc.integer({ min: 1, max: 20 }),
  });

/**
 * One run: the workload written by concurrent writers while 1-3 copies of both projections run
 * (each in its own pool), restarted now and then, with connections killed inside chosen
 * transactions; then the tables, the audit and the checkpoints are checked against the log, and
 * older events applied again over the finished tables must change nothing.
 */
async function run(scenario: Scenario): Promise<void> {
  const store = await createOrdersTestStore({ pollIntervalMs: 100 });
  const copies: Copy[] = [];
  try {
    const { schema } = store;
    await createAuditTable(store.pool, schema);
    const killed: string[] = [];
    for (const [i, plan] of scenario.copies.entries()) {
      copies.push(openCopy(schema, `copy-${i}`, { checkpointEvery: plan.checkpointEvery, killAt: new Set(plan.kills), killed }));
    }
    await Promise.all(copies.flatMap((c) => c.runners.map((r) => r.start())));

    const pending = [...scenario.restarts];
    const restartDue = async (step: number) => {
      for (const r of pending.filter((r) => r.at === step)) {
        pending.splice(pending.indexOf(r), 1);
        await copies[r.copy % copies.length]!.restart(r.fresh);
      }
    };
    await write(store, appendsOf(scenario.workload), scenario.workload.lanes, async (lane, step) => {
      if (lane === 0) await restartDue(step);
    });
    for (const r of pending) await copies[r.copy % copies.length]!.restart(r.fresh);

    for (const copy of copies) {
      for (const runner of copy.runners) await runner.waitUntilCaughtUp({ timeoutMs: 30_000 });
    }
    for (const copy of copies) {
      for (const runner of copy.runners) expect(runner.failure).toBeUndefined();
    }
    await Promise.all(copies.map((c) => c.close()));
    copies.length = 0;

    const log = await readWholeLog(store);
    await expectTablesToMatch(store.pool, schema, log);
    await expectExactlyOnce(store.pool, schema, log, killed);
    const checkpoints = store.checkpoints();
    for (const [name, filter] of Object.entries(reads)) {
      const last = log.filter(filter).at(-1)?.globalPosition ?? START;
      expect(await checkpoints.read(name)).toBeGreaterThanOrEqual(last);
    }

    // Applying older events again (a checkpoint set back by hand, a replay) moves no row back:
    // a slice from somewhere in the log, everything before it, and the whole log in one batch.
    const at = log.length === 0 ? 0 : scenario.replayFrom % log.length;
    const tables = [
      { projection: orderNumbersTableProjection({ schema }), filter: reads[ORDER_NUMBERS_TABLE_PROJECTION] },
      { projection: notificationOutboxTableProjection({ schema }), filter: reads[NOTIFICATION_OUTBOX_TABLE_PROJECTION] },
    ];
    for (const slice of [log.slice(at, at + scenario.replayEvery), log.slice(0, at), log]) {
      for (const { projection, filter } of tables) {
        const events = slice.filter(filter);
        if (events.length === 0) continue;
        await inTransaction(store.pool, (tx) => projection.handleBatch!(events, { tx }));
      }
      await expectTablesToMatch(store.pool, schema, log);
    }
  } finally {
    await Promise.all(copies.map((c) => c.close()));
    await store.close();
  }
}

describe('read models: order_numbers and notification_outbox', () => {
  let store: TestPostgresEventStore | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await store?.close();
    store = undefined;
  });

  it('migrateOrderTables() creates both tables in their own history; tables made by an earlier release are adopted', async () => {
    store = await createOrdersTestStore();
    expect(ORDER_TABLES_VERSION).toBe(1);
    const q = `"${store.schema}"`;
    const columns = async (table: string) =>
      (
        await store!.pool.query<{ column_name: string; data_type: string }>(
          `select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position`,
          [store!.schema, table],
        )
      ).rows.map((r) => `${r.column_name} ${r.data_type}`);
    expect(await columns('order_numbers')).toEqual(['number text', 'order_id uuid', 'day character', 'prefix text', 'position bigint']);
    expect(await columns('notification_outbox')).toEqual([
      'dedupe_key text',
      'order_id uuid',
      'channel text',
      'template text',
      'recipient text',
      'status text',
      'attempts integer',
      'last_error text',
      'requested_at timestamp with time zone',
      'updated_at timestamp with time zone',
      'position bigint',
    ]);
    // The event store's own history no longer holds these tables.
    const storeHistory = await store.pool.query(`select version from ${q}.schema_migrations`);
    expect(storeHistory.rows.map((r) => Number(r.version)).sort()).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
    // A schema made by an earlier release has the tables but not this history: they are adopted.
    await store.pool.query(`insert into ${q}.order_numbers values ('A-20260101-0001', gen_random_uuid(), '20260101', 'A', 1)`);
    await store.pool.query(`drop table ${q}.orders_schema_migrations`);
    expect(await migrateOrderTables(store.pool, store.schema)).toEqual([1]);
    expect(await migrateOrderTables(store.pool, store.schema)).toEqual([]);
    expect((await store.pool.query(`select count(*)::int as n from ${q}.order_numbers`)).rows[0].n).toBe(1);
    expect(await columns('order_numbers')).toHaveLength(5);
  });

  it('a status outside the five is refused by the table itself', async () => {
    store = await createOrdersTestStore();
    const insert = store.pool.query(
      `insert into "${store.schema}".notification_outbox values ('k', $1, 'email', 't', 'r', 'lost', 0, null, now(), now(), 1)`,
      [randomUUID()],
    );
    await expect(insert).rejects.toMatchObject({ code: '23514' });
  });

  it('property: after random workloads, with restarts, racing copies and connections killed before the commit, the tables match the log and every event is applied once', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb(30, 15), run), { numRuns: 10 });
  });

  it('a larger workload: 4 writers, 3 copies, kills and restarts', async () => {
    await run({
      workload: {
        orders: Array.from({ length: 80 }, (_, i) => ({ day: i % 3, prefix: i % 2, changes: i % 3 })),
        notifications: Array.from({ length: 40 }, (_, i): Step[] =>
          i % 4 === 0 ? ['attempt', 'sent'] : i % 4 === 1 ? ['attempt', 'fail', 'attempt', 'fail', 'attempt', 'dead'] : i % 4 === 2 ? ['attempt', 'attempt', 'sent'] : [],
        ),
        lanes: 4,
        seed: 7,
      },
      copies: [
        { checkpointEvery: 10, kills: [2, 5] },
        { checkpointEvery: 3, kills: [1, 4, 9] },
        { checkpointEvery: 25, kills: [] },
      ],
      restarts: [
        { copy: 0, at: 10, fresh: false },
        { copy: 1, at: 20, fresh: true },
        { copy: 2, at: 35, fresh: true },
      ],
      replayFrom: 37,
      replayEvery: 9,
    });
  });

  it('killed between its output and its checkpoint, a process leaves nothing committed; restarted, it applies every event once', async () => {
    store = await createOrdersTestStore({ pollIntervalMs: 100 });
    const { schema } = store;
    await createAuditTable(store.pool, schema);
    const entities = appendsOf({
      orders: Array.from({ length: 45 }, (_, i) => ({ day: i % 2, prefix: 0, changes: 1 })),
      notifications: Array.from({ length: 20 }, (): Step[] => ['attempt', 'fail', 'attempt', 'sent']),
      lanes: 1,
      seed: 1,
    });
    await write(store, entities, 3);
    const log = await readWholeLog(store);

    // The first process: the second transaction of a projection dies after its writes, and with
    // it the process (it does nothing more).
    const killed: string[] = [];
    const pool = testPool({ max: 4 });
    cleanups.push(() => pool.end());
    const crashing = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
    cleanups.push(() => crashing.close());
    const checkpoints = new PostgresCheckpointStore({ pool, schema });
    const runners = [orderNumbersTableProjection({ schema }), notificationOutboxTableProjection({ schema })].map((projection) =>
      createProjectionRunner<pg.PoolClient>({
        store: crashing,
        checkpoints,
        checkpointEvery: 20,
        retry: { maxAttempts: 1 },
        projection: audited(projection, {
          schema,
          copy: 'crashing',
          killAt: new Set([2]),
          killed,
          dead: () => killed.length > 0,
        }),
      }),
    );
    await Promise.all(runners.map((r) => r.start()));
    await waitUntil(() => runners.every((r) => r.status().state === 'stopped-on-poison'), 'the crashed process to stop');
    expect(killed.length).toBeGreaterThanOrEqual(1);

    // Nothing of the killed transaction is there: each table and checkpoint is where the first
    // transaction left it, or where it started.
    const stored: Record<string, bigint | null> = {};
    for (const name of Object.keys(reads)) stored[name] = await checkpoints.read(name);
    const filtered = (name: string) => log.filter(reads[name as keyof typeof reads]);
    const killedName = Object.keys(reads).find((name) => stored[name] === filtered(name)[19]!.globalPosition);
    expect(killedName, `a checkpoint at its 20th event: ${JSON.stringify(stored, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`).toBeDefined();
    for (const name of Object.keys(reads)) expect([null, filtered(name)[19]!.globalPosition]).toContain(stored[name]);
    const applied = log.filter((e) => Object.entries(reads).some(([name, filter]) => filter(e) && stored[name] !== null && e.globalPosition <= stored[name]!));
    expect(await orderNumbersTable(store.pool, schema)).toEqual(modelOrderNumbers(applied));
    expect(await outboxTable(store.pool, schema)).toEqual(modelOutbox(applied));
    await expectExactlyOnce(store.pool, schema, log, killed, stored);

    // The process starts again (a new pool, store and checkpoint store) from the checkpoints.
    const again = openCopy(schema, 'restarted', { checkpointEvery: 20 });
    cleanups.push(() => again.close());
    await Promise.all(again.runners.map((r) => r.start()));
    for (const runner of again.runners) await runner.waitUntilCaughtUp({ timeoutMs: 30_000 });
    await expectTablesToMatch(store.pool, schema, log);
    await expectExactlyOnce(store.pool, schema, log, killed);
  });

  it('two copies racing for one batch: the second waits for the first to commit, finds the checkpoint moved, and never applies it', async () => {
    store = await createOrdersTestStore({ pollIntervalMs: 100 });
    const { schema } = store;
    await createAuditTable(store.pool, schema);
    await write(
      store,
      appendsOf({ orders: Array.from({ length: 10 }, (_, i) => ({ day: 0, prefix: i % 2, changes: 0 })), notifications: [], lanes: 1, seed: 2 }),
      1,
    );
    const held = gate();
    let holding = false;
    const applied = { a: [] as string[], b: [] as string[] };
    const copy = (name: 'a' | 'b', hold: boolean) => {
      const pool = testPool({ max: 3, application_name: `race-${name}-${schema}` });
      const copyStore = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
      cleanups.push(async () => {
        await copyStore.close();
        await pool.end();
      });
      let first = true;
      return createProjectionRunner<pg.PoolClient>({
        store: copyStore,
        checkpoints: new PostgresCheckpointStore({ pool, schema }),
        projection: audited(orderNumbersTableProjection({ schema }), {
          schema,
          copy: name,
          async afterWrites(events) {
            applied[name].push(...events.map((e) => e.id));
            if (hold && first) {
              first = false;
              holding = true;
              await held.promise; // the transaction stays open, checkpoint row locked
            }
          },
        }),
      });
    };
    const a = copy('a', true);
    const b = copy('b', false);
    cleanups.push(async () => {
      await a.stop();
      await b.stop();
    });
    await a.start();
    await waitUntil(() => holding, 'copy a holding its first transaction open');
    await b.start();
    // b reads the same checkpoint (none yet) and tries the same batch: it waits on a's transaction.
    await waitUntil(
      async () =>
        (
          await store!.pool.query(`select 1 from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'`, [`race-b-${schema}`])
        ).rowCount === 1,
      'copy b waiting for copy a to commit',
    );
    held.open();
    await a.waitUntilCaughtUp({ timeoutMs: 30_000 });
    await b.waitUntilCaughtUp({ timeoutMs: 30_000 });

    // More events while both run: still each once.
    await write(
      store,
      appendsOf({ orders: Array.from({ length: 10 }, (_, i) => ({ day: 1, prefix: i % 2, changes: 0 })), notifications: [], lanes: 2, seed: 3 }),
      2,
    );
    await a.waitUntilCaughtUp({ timeoutMs: 30_000 });
    await b.waitUntilCaughtUp({ timeoutMs: 30_000 });
    expect(a.failure).toBeUndefined();
    expect(b.failure).toBeUndefined();
    const log = await readWholeLog(store);
    const numbered = log.filter(reads[ORDER_NUMBERS_TABLE_PROJECTION]);
    // a applied the first ten; b, whose transaction for them waited and was refused, applied none of them.
    expect(applied.a.slice(0, 10)).toEqual(numbered.slice(0, 10).map((e) => e.id));
    expect(applied.b.filter((id) => applied.a.includes(id))).toEqual([]);
    expect(new Set([...applied.a, ...applied.b])).toEqual(new Set(numbered.map((e) => e.id)));
    expect(await orderNumbersTable(store.pool, schema)).toEqual(modelOrderNumbers(log));
    const { rows } = await store.pool.query<{ n: number }>(
      `select count(*)::int as n from "${schema}".applied group by position having count(*) > 1`,
    );
    expect(rows).toEqual([]);
  });

  it('the tables answer lookups: numbers and delivery state of real orders, from SQL and through the helpers', async () => {
    store = await createOrdersTestStore({ pollIntervalMs: 100 });
    const { schema } = store;
    const readModels = createPostgresReadModels({ store, checkpointEvery: 7 });
    cleanups.push(() => readModels.stop());
    expect(await readModels.migrate()).toEqual([]);
    await readModels.start();

    const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
    const numbers = createOrderNumbers({ store, prefix: 'LK' });
    cleanups.push(() => numbers.stop());
    const notifications = createNotifications({
      store,
      sender: {
        async send(notification) {
          if (notification.channel === 'sms') throw new Error('gateway down');
        },
      },
      dispatch: { baseDelayMs: 1, maxDelayMs: 2, sendTimeoutMs: 5_000, maxAttempts: 2 },
    });
    cleanups.push(() => notifications.stop());
    await numbers.start();
    await notifications.start();

    const orderIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { orderId } = await orders.placeOrder(orderInput(`lookup-${i}`, { phone: i % 2 === 1 }));
      orderIds.push(orderId);
    }
    await orders.changeStatus(orderIds[1]!, 'cancelled');
    const numberOf = new Map<string, string>();
    for (const orderId of orderIds) numberOf.set(orderId, await numbers.waitForNumber(orderId, { timeoutMs: 20_000 }));
    await notifications.waitUntilIdle({ timeoutMs: 20_000 });
    await readModels.waitUntilCaughtUp({ timeoutMs: 20_000 });
    await expectTablesToMatch(store.pool, schema, await readWholeLog(store));

    for (const [i, orderId] of orderIds.entries()) {
      const number = numberOf.get(orderId)!;
      expect(number).toBe(`LK-20261123-000${i + 1}`);
      expect(await readModels.findOrderIdByNumber(number)).toBe(orderId);
      expect(await findOrderIdByNumber(store.pool, number, { schema })).toBe(orderId);
      expect(await findOrderByNumber(store, number)).toBe(orderId); // the log says the same
      expect(await readModels.findOrderNumber(orderId)).toEqual({ number, orderId, day: '20261123', prefix: 'LK', position: expect.any(BigInt) });
      const outbox = await readModels.outboxOfOrder(orderId);
      expect(await outboxOfOrder(store.pool, orderId, { schema })).toEqual(outbox);
      // E-mails are sent at once; text messages (only on cancelling) fail twice and are dead-lettered.
      const expected = [
        { channel: 'email', template: 'order-received', status: 'sent', attempts: 1, lastError: undefined },
        ...(i === 1
          ? [
              { channel: 'email', template: 'order-cancelled', status: 'sent', attempts: 1, lastError: undefined },
              { channel: 'sms', template: 'order-cancelled', status: 'dead_lettered', attempts: 2, lastError: 'gateway down' },
            ]
          : []),
      ];
      expect(
        outbox.map(({ channel, template, status, attempts, lastError }) => ({ channel, template, status, attempts, lastError })),
        orderId,
      ).toEqual(expect.arrayContaining(expected));
      expect(outbox).toHaveLength(expected.length);
      for (const row of outbox) {
        expect(row.orderId).toBe(orderId);
        expect(row.dedupeKey.startsWith(`${orderStream(orderId)}:`)).toBe(true);
        expect(row.recipient).toBe(row.channel === 'email' ? 'ada@example.com' : '+4915112345678');
        expect(row.updatedAt.getTime()).toBeGreaterThanOrEqual(row.requestedAt.getTime());
      }
    }
    expect(await readModels.findOrderIdByNumber('LK-20261123-0099')).toBeUndefined();
    expect(await readModels.findOrderIdByNumber('not a number')).toBeUndefined();
    expect(await readModels.findOrderNumber(randomUUID())).toBeUndefined();
    expect(await readModels.findOrderNumber('not-a-uuid')).toBeUndefined();
    expect(await readModels.outboxOfOrder('not-a-uuid')).toEqual([]);

    // By status, a page at a time, in log order.
    const sent: OutboxRow[] = [];
    for (let page = await readModels.outboxByStatus('sent', { limit: 2 }); page.length > 0; ) {
      expect(page.length).toBeLessThanOrEqual(2);
      sent.push(...page);
      page = await readModels.outboxByStatus('sent', { limit: 2, after: page.at(-1)!.position });
    }
    expect(sent).toHaveLength(7);
    expect(sent.map((r) => r.position)).toEqual([...sent.map((r) => r.position)].sort((x, y) => (x < y ? -1 : 1)));
    expect(await outboxByStatus(store.pool, 'sent', { schema, limit: 100 })).toEqual(sent);
    expect(await readModels.outboxByStatus('dead_lettered')).toHaveLength(1);
    for (const status of ['requested', 'attempting', 'failed'] as OutboxStatus[]) expect(await readModels.outboxByStatus(status)).toEqual([]);
    await expect(readModels.outboxByStatus('lost' as OutboxStatus)).rejects.toBeInstanceOf(ValidationError);
    await expect(readModels.outboxByStatus('sent', { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(findOrderIdByNumber(store.pool, 42 as unknown as string, { schema })).rejects.toBeInstanceOf(ValidationError);
    await expect(findOrderNumber(store.pool, randomUUID(), { schema: 'Bad-Schema' })).rejects.toBeInstanceOf(ValidationError);

    // Plain SQL, as a user would write it: every order with its number and its notifications.
    const q = `"${schema}"`;
    const { rows } = await store.pool.query<{ number: string; channel: string; template: string; status: string }>(
      `select n.number, o.channel, o.template, o.status
       from ${q}.order_numbers n join ${q}.notification_outbox o using (order_id)
       where o.status = 'dead_lettered'
       order by n.number`,
    );
    expect(rows).toEqual([{ number: 'LK-20261123-0002', channel: 'sms', template: 'order-cancelled', status: 'dead_lettered' }]);
  });

  it('without a transaction to write in (a checkpoint store that has none), a table projection stops, saying why', async () => {
    store = await createOrdersTestStore({ pollIntervalMs: 100 });
    await write(store, appendsOf({ orders: [{ day: 0, prefix: 0, changes: 0 }], notifications: [], lanes: 1, seed: 4 }), 1);
    const runner = createProjectionRunner({
      store,
      checkpoints: new MemoryCheckpointStore(),
      projection: orderNumbersTableProjection({ schema: store.schema }) as Projection,
      retry: { maxAttempts: 1 },
    });
    await runner.start();
    await waitUntil(() => runner.status().state === 'stopped-on-poison', 'the projection to stop');
    expect(runner.failure).toBeInstanceOf(ProjectionFailedError);
    expect(String((runner.failure!.cause as Error).message)).toMatch(/PostgresCheckpointStore/);
    expect((await orderNumbersTable(store.pool, store.schema)).size).toBe(0);
  });

  it('an event the table cannot hold stops the projection at that event, with nothing written past it', async () => {
    store = await createOrdersTestStore({ pollIntervalMs: 100 });
    const { schema } = store;
    await write(store, appendsOf({ orders: [{ day: 0, prefix: 0, changes: 0 }], notifications: [], lanes: 1, seed: 5 }), 1);
    const orderId = randomUUID();
    const bad = await store.appendToStream(
      orderStream(orderId),
      [{ id: randomUUID(), type: 'OrderNumberAssigned', data: { orderId, number: 'X-1', prefix: 'X', day: 'Monday' } }],
      { expectedVersion: 'no_stream' },
    );
    const readModels = createPostgresReadModels({ store, retry: { maxAttempts: 1 } });
    cleanups.push(() => readModels.stop());
    await readModels.start();
    await waitUntil(() => readModels.orderNumbers.status().state === 'stopped-on-poison', 'the projection to stop', 30_000);
    expect(readModels.orderNumbers.failure).toMatchObject({ event: { position: bad.lastGlobalPosition, type: 'OrderNumberAssigned' } });
    expect(String(readModels.orderNumbers.failure!.message)).toMatch(/day is not YYYYMMDD/);
    expect((await orderNumbersTable(store.pool, schema)).size).toBe(1);
    expect(await readModels.checkpoints.read(ORDER_NUMBERS_TABLE_PROJECTION)).toBeLessThan(bad.lastGlobalPosition);
  });
});
