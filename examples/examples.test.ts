import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { MemoryEventStore, type EventStore } from '@ordo/core';
import { defaultLifecycle } from '@ordo/orders';
import { createTestStore } from '../test/support/postgres.js';
import { adminStatusUpdates } from './admin-status-updates/admin-panel.js';
import { checkoutOrderNumbers } from './checkout-order-numbers/checkout.js';
import { fulfillmentSubmission } from './fulfillment-submission/fulfillment.js';
import { orderStory } from './order-story/story.js';
import { quickStart } from './quick-start.js';
import { triageRotation } from './triage-rotation/triage.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  test('shows examples/quick-start.ts verbatim', () => {
    const source = readFileSync(new URL('./quick-start.ts', import.meta.url), 'utf8');
    expect(readme).toContain('```ts\n' + source + '```');
  });

  test('draws the default lifecycle as toMermaid() does', () => {
    expect(readme).toContain('```mermaid\n' + defaultLifecycle.toMermaid() + '\n```');
  });
});

describe('fulfillment example', () => {
  // The demo's story on the embedded store, where the seeded run is deterministic: each kind of
  // trouble shows at least once. (On PostgreSQL timing decides which orders are stuck when the
  // timer looks, so there only the invariants of the suite below are checked.)
  test('the default run shows each kind of trouble at least once', async () => {
    const s = await fulfillmentSubmission(new MemoryEventStore());
    expect(s.manuallyCompleted).toBe(1);
    expect(s.recovered).toBeGreaterThan(0);
    expect(s.lateAnswers).toBeGreaterThan(0);
    expect(s.failed).toBeGreaterThan(0);
  });
});

describe('demo', () => {
  // The demo runs the story and then the checkout on one store: the checkout's numbers are its own.
  test('on a fresh store the checkout numbers start at 0001 after the order story', async () => {
    const store = new MemoryEventStore();
    await orderStory(store);
    const summary = await checkoutOrderNumbers(store, { checkouts: 20 });
    expect(summary.firstNumber).toMatch(/^GAM-\d{8}-0001$/);
    expect(summary.lastNumber).toMatch(/^GAM-\d{8}-0020$/);
    await store.close();
  });
});

describe('quick start', () => {
  test('quick start: numbered, confirmed once, audited', async () => {
    const result = await quickStart();
    expect(result.number).toMatch(/^SHOP-\d{8}-0001$/);
    expect(result.status).toBe('confirmed');
    expect(result.history.map((h) => h.type)).toEqual(['OrderPlaced', 'OrderNumberAssigned', 'OrderStatusChanged']);
    expect(result.history[2]!.actor).toBe('admin:ann');
  });
});

// Each example runs on the in-memory store and on a real PostgreSQL (the test server, a fresh schema).
describe.each([
  ['in-memory store', async (): Promise<EventStore> => new MemoryEventStore()],
  ['PostgreSQL', async (): Promise<EventStore> => createTestStore()],
])('examples keep the promises they print, on the %s', (_label, open) => {
  const opened: EventStore[] = [];
  const store = async () => {
    const s = await open();
    opened.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  test('order story: duplicate absorbed, one racer applies, one no-op, one rejected', async () => {
    const story = await orderStory(await store());
    expect(story.duplicatePlacementAbsorbed).toBe(true);
    expect(story.race.map((r) => r.outcome).sort()).toEqual(['applied', 'no-op', 'rejected']);
    expect(story.finalStatus).toBe('confirmed');
    expect(story.history).toHaveLength(2);
  });

  test('checkout: one order per payment, unique gapless numbers', async () => {
    const summary = await checkoutOrderNumbers(await store(), { checkouts: 200 });
    expect(summary.callbacks).toBeGreaterThan(summary.checkouts);
    expect(summary.orders).toBe(200);
    expect(summary.uniqueNumbers).toBe(200);
    expect(summary.gaplessPerDay).toBe(true);
    expect(summary.firstNumber).toMatch(/^GAM-\d{8}-0001$/);
    expect(summary.lastNumber).toMatch(/^GAM-\d{8}-0200$/);
  });

  test('admin panel: no raw errors, every notification settled exactly once, none sent twice', async () => {
    const s = await adminStatusUpdates(await store(), { orders: 20, admins: 10, clicksPerAdmin: 10 });
    expect(s.rawErrors).toBe(0);
    expect(s.applied + s.noops + s.retriesAbsorbed + s.rejected).toBe(s.attempted);
    expect(s.applied).toBeGreaterThan(0);
    expect(s.senderFailures).toBeGreaterThan(0);
    expect(s.notifications.transitions).toBeGreaterThan(20);
    expect(s.notifications.exactlyOnce).toBe(s.notifications.transitions);
    expect(s.notifications.duplicates).toBe(0);
    // The SMS outage held up no e-mail: all of them settled while text messages still waited for their retry.
    expect(s.smsOutage.emailsSettled).toBe(s.smsOutage.emails);
    expect(s.smsOutage.smsWaiting).toBeGreaterThan(0);
  });

  test('fulfillment: every order completed or failed with a reason, one request per order, every call explained', async () => {
    for (const seed of [4, 1, 2, 3]) {
      const s = await fulfillmentSubmission(await store(), { seed });
      expect(s.completed + s.failed).toBe(s.orders);
      for (const e of s.endStates) {
        expect(['completed', 'failed']).toContain(e.status);
        if (e.status === 'failed') expect(e.last.reason).toEqual(expect.any(String));
        for (const failure of e.failures) expect(failure.length).toBeGreaterThan(0);
      }
      expect(s.maxRequestsPerOrder).toBe(1);
      expect(s.repeatedCalls).toBe(0);
      expect(s.unexplainedCalls).toBe(0);
      expect(s.manuallyCompleted).toBeLessThanOrEqual(1); // only if something is still stuck when the operator looks
      expect(s.providerCalls).toBeGreaterThan(s.orders);
    }
  });

  test('triage rotation: one sprint and one override recorded, the racing copies absorbed, no failures', async () => {
    const s = await triageRotation(await store());
    expect(s.joins).toEqual({ sent: 10, recorded: 5, absorbed: 5 });
    expect(s.sprint.recorded).toBe(1);
    expect(s.sprint.starts.map((start) => start.outcome).sort()).toEqual(['no-op', 'recorded']);
    expect(s.override.recorded).toBe(1);
    expect(s.override.deliveries.map((d) => d.outcome).sort()).toEqual(['no-op', 'recorded']);
    expect(s.duplicateKeyFailures).toBe(0);
    expect(s.failures).toBe(0);
    // Everyone on call serves in that discipline, and with five people nobody covers two.
    for (const [discipline, person] of Object.entries(s.sprint.onCall)) expect(s.rotation[discipline]).toContain(person);
    expect(new Set(Object.values(s.sprint.onCall)).size).toBe(Object.keys(s.rotation).length);
    expect(s.onCall).toEqual({ ...s.sprint.onCall, [s.override.discipline]: s.override.to });
  });
});
