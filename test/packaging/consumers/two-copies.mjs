// Two copies of @ordo/core in one process, as an application gets them when it is an ES module and
// part of Ordo is loaded through `require` (the ESM and the CommonJS build are separate copies).
// Ten order services (each with its own command handler) record ten payments on one order at once;
// the store's conflicts come from one copy and the handlers that must retry them live in the other.
// Every payment must be recorded: a handler that does not recognise the conflict gives up instead.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import pg from 'pg';
import * as esmCore from '@ordo/core';
import * as esmOrders from '@ordo/orders';

const require = createRequire(import.meta.url);
const cjsCore = require('@ordo/core');
const cjsOrders = require('@ordo/orders');
const cjsPostgres = require('@ordo/postgres');

const CONCURRENT = 10;

/** Places an order, then records CONCURRENT payments on it at once through separate services. */
async function racePayments(label, store, createOrderService) {
  const services = Array.from({ length: CONCURRENT }, () => createOrderService({ store }));
  const { orderId } = await services[0].placeOrder({
    idempotencyKey: `two-copies-${label}-${randomUUID()}`,
    customer: { email: 'ada@example.com' },
    currency: 'EUR',
    lines: [{ sku: 'PIZZA-M', name: 'Margherita', quantity: 1, unitPrice: { amount: 950, currency: 'EUR' } }],
  });
  const outcomes = await Promise.allSettled(
    services.map((orders, i) => orders.recordPayment(orderId, { paymentId: `pay-${i}`, amount: { amount: 95, currency: 'EUR' } })),
  );
  const failed = outcomes.filter((o) => o.status === 'rejected').map((o) => `${o.reason?.name}: ${o.reason?.message}`);
  const order = await services[0].getOrder(orderId);
  const line = `${label}: ${CONCURRENT - failed.length}/${CONCURRENT} payments recorded, ${order.payments.length} on the order`;
  if (failed.length > 0 || order.payments.length !== CONCURRENT) throw new Error(`${line}\n  ${failed.join('\n  ')}`);
  console.log(line);
}

/** The copies really are two, and each recognises the other's errors. */
function checkCopies() {
  if (cjsCore.MemoryEventStore === esmCore.MemoryEventStore) throw new Error('only one copy of @ordo/core is loaded');
  const foreign = new cjsCore.WrongExpectedVersionError('s', 1n, 2n);
  const checks = {
    'instanceof across copies': foreign instanceof esmCore.WrongExpectedVersionError,
    'guard across copies': esmCore.isWrongExpectedVersionError(foreign),
    'isOrdoError with a code': esmCore.isOrdoError(foreign, 'wrong_expected_version'),
    'no false match': !(foreign instanceof esmCore.ValidationError),
  };
  const broken = Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name);
  if (broken.length > 0) throw new Error(`errors are not recognised across copies: ${broken.join(', ')}`);
}

let failures = 0;

/** Runs one check; a failure is reported and the other checks still run. */
async function check(run) {
  try {
    await run();
  } catch (error) {
    failures++;
    console.error(error instanceof Error ? error.message : error);
  }
}

// The store from the ESM copy, the handlers from the CommonJS copy.
await check(() => racePayments('memory store (ESM) with order services (CommonJS)', new esmCore.MemoryEventStore(), cjsOrders.createOrderService));

const url = process.env.DATABASE_URL;
if (url) {
  // The PostgreSQL store from the CommonJS copy, the handlers from the ESM copy.
  const pool = new pg.Pool({ connectionString: url, max: CONCURRENT + 2 });
  const schema = `two_copies_${randomUUID().slice(0, 8)}`;
  const store = new cjsPostgres.PostgresEventStore({ pool, schema });
  try {
    await store.migrate();
    await check(() => racePayments('PostgreSQL store (CommonJS) with order services (ESM)', store, esmOrders.createOrderService));
  } finally {
    await store.close();
    await pool.query(`drop schema if exists "${schema}" cascade`);
    await pool.end();
  }
} else {
  console.log('PostgreSQL: skipped (DATABASE_URL is not set)');
}
await check(checkCopies);
if (failures > 0) process.exitCode = 1;
