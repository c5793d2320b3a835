/**
 * Bad input never reaches the database: a typed error that names the field, no statement sent,
 * nothing written.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError, type ExpectedVersion, type NewEvent } from '@ordo/core';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import { createTestStore, testPool, type TestPostgresEventStore } from '../support/postgres.js';

const event = (partial: Partial<NewEvent> & Record<string, unknown> = {}): NewEvent =>
  ({ id: randomUUID(), type: 'Tested', data: { ok: true }, ...partial }) as NewEvent;

/** Counts what `pool` is asked to do: statements and connection check-outs. */
function countCalls(pool: pg.Pool) {
  const counts = { query: 0, connect: 0 };
  const query = pool.query.bind(pool);
  const connect = pool.connect.bind(pool);
  pool.query = ((...args: Parameters<typeof query>) => {
    counts.query++;
    return (query as (...a: unknown[]) => unknown)(...args);
  }) as typeof pool.query;
  pool.connect = ((...args: Parameters<typeof connect>) => {
    counts.connect++;
    return (connect as (...a: unknown[]) => unknown)(...args);
  }) as typeof pool.connect;
  return counts;
}

async function paths(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).issues.map((i) => i.path);
}

describe('bad input is refused before any statement is sent, and nothing is written', () => {
  let store: TestPostgresEventStore;
  let calls: { query: number; connect: number };

  beforeEach(async () => {
    store = await createTestStore({ maxBatchBytes: 64 * 1024 });
    calls = countCalls(store.pool);
  });

  afterEach(async () => {
    await store.close();
  });

  async function expectNothingWritten() {
    const { rows } = await store.pool.query<{ events: string; streams: string }>(
      `select (select count(*) from "${store.schema}".events) as events, (select count(*) from "${store.schema}".streams) as streams`,
    );
    expect(rows[0]).toEqual({ events: '0', streams: '0' });
  }

  const circular: Record<string, unknown> = { name: 'loop' };
  circular.self = circular;

  it.each<{ label: string; stream?: string; events: () => NewEvent[]; expected?: unknown; path: string; prefix?: boolean }>([
    { label: 'an event over 1 MiB of JSON', events: () => [event({ data: { blob: 'x'.repeat(1024 * 1024) } })], path: 'events.0' },
    { label: 'a batch over the store’s byte limit', events: () => Array.from({ length: 8 }, () => event({ data: 'y'.repeat(10_000) })), path: 'events' },
    { label: 'NaN in data', events: () => [event({ data: { total: Number.NaN } })], path: 'events.0.data.total' },
    { label: 'a bigint in data', events: () => [event({ data: { cents: 10n } })], path: 'events.0.data.cents' },
    { label: 'a Date in metadata', events: () => [event({ metadata: { at: new Date() } as never })], path: 'events.0.metadata.at' },
    { label: 'a circular structure', events: () => [event({ data: circular })], path: 'events.0.data.self', prefix: true },
    { label: 'undefined data', events: () => [event({ data: undefined })], path: 'events.0.data' },
    { label: 'a non-UUID id', events: () => [event({ id: 'order-1' })], path: 'events.0.id' },
    { label: 'an event type with a space', events: () => [event({ type: 'Order Placed' })], path: 'events.0.type' },
    { label: 'a stream name with a space', stream: 'a b', events: () => [event()], path: 'stream' },
    { label: 'a stream name starting with $', stream: '$all', events: () => [event()], path: 'stream' },
    { label: 'a stream name with an unpaired surrogate', stream: 'order-\ud800', events: () => [event()], path: 'stream' },
    { label: 'an unknown expected version', events: () => [event()], expected: 'latest', path: 'expectedVersion' },
    { label: 'a negative expected version', events: () => [event()], expected: -1n, path: 'expectedVersion' },
  ])('$label', async ({ stream = 'orders-1', events, expected = 'any', path, prefix }) => {
    const found = await paths(store.appendToStream(stream, events(), { expectedVersion: expected as ExpectedVersion }));
    if (prefix) expect(found.some((p) => p.startsWith(`${path}.`))).toBe(true);
    else expect(found).toContain(path);
    expect(calls).toEqual({ query: 0, connect: 0 });
    await expectNothingWritten();
  });

  it('a read of a stream with a bad name is refused before any statement', async () => {
    expect(await paths(store.readStream('bad name'))).toEqual(['stream']);
    expect(await paths(store.readStream('x\udc00'))).toEqual(['stream']);
    expect(calls).toEqual({ query: 0, connect: 0 });
  });

  it('strings PostgreSQL cannot hold as text (NUL, unpaired surrogates) round-trip inside event data', async () => {
    const data = { nul: 'a\u0000b', lone: 'x\ud800y', [`k\udfffey`]: 'v', pair: '😀' };
    await store.appendToStream('strings', [event({ data })], { expectedVersion: 'no_stream' });
    expect((await store.readStream('strings')).events[0]!.data).toStrictEqual(data);
  });

  it('checkpoint names are checked before any statement', async () => {
    const checkpoints = store.checkpoints();
    for (const name of ['', 'x'.repeat(201), 'tab\there', 'lone\ud800']) {
      expect(await paths(checkpoints.read(name))).toEqual(['name']);
      expect(await paths(checkpoints.store(name, 1n, null))).toEqual(['name']);
      expect(await paths(checkpoints.transaction(name, 1n, null, async () => undefined))).toEqual(['name']);
    }
    expect(calls).toEqual({ query: 0, connect: 0 });
  });
});

describe('a bad schema name', () => {
  it.each(['', 'Orders', 'orders; drop table x', 'pg_catalog', '1orders', 'a'.repeat(64), 'or"ders', 'ordo-test'])(
    '%j is refused by the constructors, and nothing is created',
    async (schema) => {
      const pool = testPool();
      try {
        const calls = countCalls(pool);
        expect(() => new PostgresEventStore({ pool, schema })).toThrow(ValidationError);
        expect(() => new PostgresCheckpointStore({ pool, schema })).toThrow(ValidationError);
        try {
          new PostgresEventStore({ pool, schema });
        } catch (error) {
          expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['schema']);
        }
        expect(calls).toEqual({ query: 0, connect: 0 });
      } finally {
        await pool.end();
      }
    },
  );

  it('neither a pool nor a connection string is a TypeError', () => {
    expect(() => new PostgresEventStore({})).toThrow(TypeError);
  });
});
