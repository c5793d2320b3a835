// A plain JavaScript (CommonJS) application using Ordo as published, no TypeScript involved.
const { randomBytes } = require('node:crypto');
const { Pool } = require('pg');
const { EventStoreDBEventStore } = require('@ordo/eventstoredb');
const { MemoryEventStore, isValidationError } = require('@ordo/core');
const { createOrderService } = require('@ordo/orders');
const { migrateOrderTables } = require('@ordo/orders/postgres');
const { PostgresEventStore } = require('@ordo/postgres');

async function placeOrder(store, key) {
  const orders = createOrderService({ store });
  const { orderId } = await orders.placeOrder({
    idempotencyKey: key,
    customer: { email: 'ada@example.com' },
    currency: 'EUR',
    lines: [{ sku: 'TEA', name: 'Tea', quantity: 1, unitPrice: { amount: 300, currency: 'EUR' } }],
  });
  const refused = await orders.placeOrder({ idempotencyKey: key }).catch((error) => error);
  if (!isValidationError(refused)) throw new Error(`expected a ValidationError, got ${String(refused)}`);
  return orders.getOrder(orderId);
}

async function main() {
  // Loads without an EventStoreDB client installed: the application passes its own client.
  if (typeof EventStoreDBEventStore !== 'function') throw new Error('@ordo/eventstoredb is broken');
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  const inMemory = await placeOrder(new MemoryEventStore(), 'plain-cjs-memory');
  const pool = new Pool({ connectionString: url, max: 4 });
  const schema = `consumer_plain_cjs_${randomBytes(4).toString('hex')}`;
  const store = new PostgresEventStore({ pool, schema });
  try {
    await store.migrate();
    await migrateOrderTables(pool, schema);
    const inPostgres = await placeOrder(store, 'plain-cjs-postgres');
    console.log(`plain-cjs: memory order ${inMemory.status}, PostgreSQL order ${inPostgres.status}`);
  } finally {
    await store.close();
    await pool.query(`drop schema if exists "${schema}" cascade`);
    await pool.end();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
