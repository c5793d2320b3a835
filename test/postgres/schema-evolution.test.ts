/**
 * The schema-evolution scenario of `packages/orders/test/order/schema-evolution.test.ts` on
 * PostgreSQL: events written in last year's format (the kept version-1 log) read exactly like the
 * same orders written by version-2 code, through the fold, a projection and the history.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventSchemaError, withEventSchemas } from '@ordo/core';
import { createOrderService } from '@ordo/orders';
import {
  evolvedSchemas,
  fixtureLog,
  loadAsWrittenLastYear,
  whatReadersSee,
  writeAsVersion2,
} from '../../packages/orders/test/order/schema-evolution.js';
import { createTestStore, type TestPostgresEventStore } from '../support/postgres.js';

describe('evolving OrderPlaced over the kept version-1 log, on PostgreSQL', () => {
  const stores: TestPostgresEventStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  const fresh = async () => {
    const store = await createTestStore();
    stores.push(store);
    return store;
  };

  it('old events fold, project and display exactly like the same orders written by version-2 code', async () => {
    const old = await fresh();
    await loadAsWrittenLastYear(old);
    const v2 = await fresh();
    await writeAsVersion2(v2);
    const seenOld = await whatReadersSee(old);
    expect(seenOld).toEqual(await whatReadersSee(v2));
    expect(seenOld.folded[0]!.customer).toEqual({ givenName: 'Ada', familyName: 'King Lovelace', email: 'ada@example.com' });
    expect((await v2.readStream(fixtureLog()[0]!.streamName)).events[0]!.metadata.schemaVersion).toBe(2);
  });

  it('an old event that fails the schema after upcasting is an EventSchemaError naming stream, version and field', async () => {
    const log = fixtureLog();
    const store = await fresh();
    await loadAsWrittenLastYear(store, log.map((e, i) => (i === 0 ? { ...e, data: { ...e.data, lines: 'none' } } : e)));
    const orders = createOrderService({ store: withEventSchemas(store, evolvedSchemas) });
    const error = await orders.history(log[0]!.streamName.slice('order-'.length)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventSchemaError);
    expect(error).toMatchObject({ stream: log[0]!.streamName, streamVersion: 0n, schemaVersion: 1 });
    expect((error as EventSchemaError).issues.map((i) => i.path)).toContain('lines');
  });
});
