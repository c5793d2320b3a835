// A TypeScript application using Ordo as published: the gate compiles this one file under several
// module settings (NodeNext, CommonJS with node10 resolution, bundler) and runs the output.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { MemoryEventStore, isValidationError, type EventStore } from '@ordo/core';
import { specification } from '@ordo/core/testing';
import { createOrderDecider, createOrderService, type Order } from '@ordo/orders';
import { migrateOrderTables } from '@ordo/orders/postgres';
import { EventStoreDBEventStore } from '@ordo/eventstoredb';
import { PostgresEventStore } from '@ordo/postgres';

/** Places one order on `store` and reads it back; refuses bad input with a typed error. */
async function placeOrder(store: EventStore, key: string): Promise<Order> {
  const orders = createOrderService({ store });
  const { orderId } = await orders.placeOrder({
    idempotencyKey: key,
    customer: { email: 'ada@example.com' },
    currency: 'EUR',
    lines: [{ sku: 'PIZZA-M', name: 'Margherita', quantity: 2, unitPrice: { amount: 950, currency: 'EUR' } }],
  });
  await orders.changeStatus(orderId, 'confirmed', { actor: 'admin:ann' });
  const refused = await orders.changeStatus('not-an-id', 'confirmed').catch((error: unknown) => error);
  if (!isValidationError(refused)) throw new Error(`expected a ValidationError, got ${String(refused)}`);
  return orders.getOrder(orderId);
}

async function main(): Promise<void> {
  const label = process.argv[2] ?? 'consumer';
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  if (typeof specification(createOrderDecider()).given !== 'function') throw new Error('@ordo/core/testing is broken');
  // Loads without an EventStoreDB client installed: the application passes its own client.
  if (typeof EventStoreDBEventStore !== 'function') throw new Error('@ordo/eventstoredb is broken');

  const inMemory = await placeOrder(new MemoryEventStore(), `${label}-memory`);

  const pool = new Pool({ connectionString: url, max: 4 });
  const schema = `consumer_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
  const store = new PostgresEventStore({ pool, schema });
  try {
    await store.migrate();
    await migrateOrderTables(pool, schema);
    const inPostgres = await placeOrder(store, `${label}-postgres`);
    console.log(`${label}: memory order ${inMemory.status}, PostgreSQL order ${inPostgres.status}`);
  } finally {
    await store.close();
    await pool.query(`drop schema if exists "${schema}" cascade`);
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
