/**
 * The order-numbers and notification projections keep their properties on EventStoreDB: the event
 * store adapter over the in-process server. Fewer and smaller property runs than on the in-memory
 * store: every step here is a gRPC call, and the whole EventStoreDB suite stays fast.
 */
import { EventStoreDBEventStore } from '@ordo/eventstoredb';
import { notificationsProperty, notificationsSuite } from '../projections/notification-properties.js';
import { orderNumbersProperty, orderNumbersSuite } from '../projections/order-numbers-properties.js';
import { REAL_SERVER_URL, inProcessServer, realServer } from './support.js';

const env = inProcessServer();
const open = async () => new EventStoreDBEventStore(await env.client());

orderNumbersSuite(open);
orderNumbersProperty(open, { runs: 8, maxOrders: 40, largeRuns: 1, largeOrders: 150 });
notificationsSuite(open);
notificationsProperty(open, { runs: 10 });

if (REAL_SERVER_URL) {
  const real = realServer(REAL_SERVER_URL);
  const openReal = async () => new EventStoreDBEventStore(await real.client());
  orderNumbersSuite(openReal);
  orderNumbersProperty(openReal, { runs: 5, maxOrders: 40, largeRuns: 1, largeOrders: 200 });
  notificationsSuite(openReal);
  notificationsProperty(openReal, { runs: 10 });
}
