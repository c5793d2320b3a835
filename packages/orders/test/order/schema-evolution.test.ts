import { describe, expect, it } from 'vitest';
import { EventSchemaError, MemoryEventStore, withEventSchemas } from '@ordo/core';
import { createOrderService } from '@ordo/orders';
import { evolvedSchemas, fixtureLog, loadAsWrittenLastYear, whatReadersSee, writeAsVersion2 } from './schema-evolution.js';

describe('evolving OrderPlaced (test-local version 2) over the kept version-1 log, in memory', () => {
  it('old events fold, project and display exactly like the same orders written by version-2 code', async () => {
    const old = new MemoryEventStore();
    await loadAsWrittenLastYear(old);
    const fresh = new MemoryEventStore();
    await writeAsVersion2(fresh);

    const seenOld = await whatReadersSee(old);
    const seenFresh = await whatReadersSee(fresh);
    expect(seenOld).toEqual(seenFresh);
    // And both are in the new shape, not the old one.
    expect(seenOld.folded[0]!.customer).toEqual({ givenName: 'Ada', familyName: 'King Lovelace', email: 'ada@example.com' });
    expect(seenOld.folded[1]!.customer).toEqual({ givenName: 'Grace', phone: '+4915112345678' });
    expect(seenOld.histories[0]![0]!.data).toMatchObject({ customer: { givenName: 'Ada' } });
    expect(seenOld.requests.length).toBeGreaterThan(0);
    // The stores really differ underneath: one holds version 1, the other version 2.
    const [oldPlaced, freshPlaced] = await Promise.all([old, fresh].map(async (s) => (await s.readStream(fixtureLog()[0]!.streamName)).events[0]!));
    expect(oldPlaced!.metadata.schemaVersion).toBeUndefined();
    expect(freshPlaced!.metadata.schemaVersion).toBe(2);
  });

  it('an old event that cannot be upcast is a typed error naming the stream, version and field, not a silent cast', async () => {
    const log = fixtureLog();
    const broken = log.map((e, i) => (i === 0 ? { ...e, data: { ...e.data, customer: { name: 'Nobody' } } } : e));
    const store = new MemoryEventStore();
    await loadAsWrittenLastYear(store, broken);
    const orders = createOrderService({ store: withEventSchemas(store, evolvedSchemas) });
    const orderId = log[0]!.streamName.slice('order-'.length);
    const error = await orders.getOrder(orderId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventSchemaError);
    expect(error).toMatchObject({ stream: log[0]!.streamName, streamVersion: 0n, schemaVersion: 1, eventType: 'OrderPlaced' });
    expect((error as EventSchemaError).issues[0]!.path).toBe('customer');
  });
});
