/**
 * A test-local evolution of `OrderPlaced` (the real schema does not change): version 2 splits
 * `customer.name` into `givenName` and `familyName`. The scenario loads the kept version-1 log
 * into one store as older code wrote it, writes the same orders as version-2 code would into
 * another, and reads both through `withEventSchemas`: the fold, a projection and the history must
 * not tell them apart.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  createProjectionRunner,
  defineEventSchemas,
  MemoryCheckpointStore,
  withEventSchemas,
  type EventStore,
  type NewEvent,
} from '@ordo/core';
import {
  createOrderService,
  notificationRequestsProjection,
  NotificationEvents,
  orderPlacedSchema,
  recordedValues,
  tryMatchOrderStream,
} from '@ordo/orders';

/** One event of `log-v1.json`. */
interface FixtureEvent {
  streamName: string;
  streamVersion: string;
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** The kept log, in the order it was written. */
export function fixtureLog(): FixtureEvent[] {
  return JSON.parse(readFileSync(new URL('../fixtures/log-v1.json', import.meta.url), 'utf8')).events;
}

const customerV2 = z
  .object({ givenName: z.string().optional(), familyName: z.string().optional(), email: z.email().optional(), phone: z.string().optional() })
  .refine((c) => c.email !== undefined || c.phone !== undefined, { message: 'needs an email or a phone number' });

/** Version 1 → 2: the first word is the given name, the rest the family name. */
export function splitCustomerName(data: unknown): unknown {
  const placed = data as { customer: { name?: string } & Record<string, unknown> };
  const { name, ...rest } = placed.customer;
  if (name === undefined) return { ...placed, customer: rest };
  const [givenName, ...family] = name.split(' ');
  return { ...placed, customer: { ...rest, givenName, ...(family.length > 0 && { familyName: family.join(' ') }) } };
}

/** The registry version-2 code runs with. */
export const evolvedSchemas = defineEventSchemas({
  OrderPlaced: {
    version: 2,
    schema: orderPlacedSchema.extend({ customer: customerV2 }),
    upcast: { 1: splitCustomerName },
  },
  // Unchanged events are registered too, so every read of them is validated.
  PaymentRecorded: { version: 1, schema: z.object({ amount: recordedValues.money }).loose() },
});

/** Appends the kept log to `store` stream by stream, in log order, exactly as stored (version 1). */
export async function loadAsWrittenLastYear(store: EventStore, log = fixtureLog()): Promise<void> {
  for (const e of log) {
    const event: NewEvent = { id: e.id, type: e.type, data: e.data, metadata: e.metadata };
    await store.appendToStream(e.streamName, [event], { expectedVersion: BigInt(e.streamVersion) - 1n < 0n ? 'no_stream' : BigInt(e.streamVersion) - 1n });
  }
}

/** Appends the same orders as version-2 code writes them: the new shape, stamped by the decorator. */
export async function writeAsVersion2(store: EventStore): Promise<void> {
  const evolved = withEventSchemas(store, evolvedSchemas);
  const log = fixtureLog().map((e) => (e.type === 'OrderPlaced' ? { ...e, data: splitCustomerName(e.data) as Record<string, unknown> } : e));
  await loadAsWrittenLastYear(evolved, log);
}

/** What a reader sees of the orders in `store`: each order folded, its history, and the notifications projected from it. */
export async function whatReadersSee(store: EventStore) {
  const evolved = withEventSchemas(store, evolvedSchemas);
  const orders = createOrderService({ store: evolved });
  const orderIds = [...new Set(fixtureLog().flatMap((e) => tryMatchOrderStream(e.streamName) ?? []))];
  const folded = await Promise.all(orderIds.map((id) => orders.getOrder(id)));
  const histories = await Promise.all(
    orderIds.map(async (id) => (await orders.history(id)).map(({ position: _p, recordedAt: _r, ...entry }) => entry)),
  );
  const runner = createProjectionRunner({ store: evolved, checkpoints: new MemoryCheckpointStore(), projection: notificationRequestsProjection({ store: evolved }) });
  await runner.start();
  await runner.waitUntilCaughtUp();
  await runner.stop();
  const requests: unknown[] = [];
  for await (const e of evolved.readAll({ filter: { eventTypes: [NotificationEvents.Requested] } })) requests.push(e.data);
  return { folded, histories, requests };
}
