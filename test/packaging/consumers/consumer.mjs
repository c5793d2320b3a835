// A plain JavaScript (ES module) application using Ordo as published, no TypeScript involved.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { MemoryEventStore, isValidationError } from '@ordo/core';
import { createOrderService } from '@ordo/orders';
import { migrateOrderTables } from '@ordo/orders/postgres';
import { PostgresEventStore } from '@ordo/postgres';

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

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is not set');
const inMemory = await placeOrder(new MemoryEventStore(), 'plain-esm-memory');
const pool = new pg.Pool({ connectionString: url, max: 4 });
const schema = `consumer_plain_esm_${randomBytes(4).toString('hex')}`;
const store = new PostgresEventStore({ pool, schema });
try {
  await store.migrate();
  await migrateOrderTables(pool, schema);
  const inPostgres = await placeOrder(store, 'plain-esm-postgres');
  console.log(`plain-esm: memory order ${inMemory.status}, PostgreSQL order ${inPostgres.status}`);
} finally {
  await store.close();
  await pool.query(`drop schema if exists "${schema}" cascade`);
  await pool.end();
}
