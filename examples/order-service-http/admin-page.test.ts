/// <reference lib="dom" />
/**
 * The admin page in a real browser (headless Chromium) against the real server on PostgreSQL.
 * Skipped, with a message, only where Chromium is missing outside CI; in CI a missing Chromium fails.
 * `ORDO_SCREENSHOT=<file>` saves a screenshot of the two-tab conflict (`pnpm screenshot`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import { createTestStore } from '../../test/support/postgres.js';
import { findChromium, launchChromium } from './chromium.js';
import { ADMINS, Client, deliverWebhook, eventually, paymentPayload, startTestServer } from './test-support.js';

const chromium = findChromium();
if (!chromium && !process.env.CI) {
  console.warn('admin-page.test.ts: SKIPPED: no Chromium found (install the `chromium` package or set CHROMIUM_PATH)');
}

// In CI a missing Chromium is a failing test, not a quietly skipped one.
it.runIf(!chromium && !!process.env.CI)('finds Chromium (required in CI)', () => {
  throw new Error('Chromium is required in CI: apt-get install -y chromium, or set CHROMIUM_PATH');
});

describe.skipIf(!chromium)('the admin page in Chromium, on PostgreSQL', () => {
  type Server = Awaited<ReturnType<typeof startTestServer>>;
  let server: Server;
  let browser: Browser;
  let checkout: Client;
  let admin: Client;

  beforeAll(async () => {
    const store = await createTestStore();
    // Retries slow enough for a person (and the test) to see a notification retrying.
    server = await startTestServer({ store, checkpoints: store.checkpoints(), retryDelayMs: 200 });
    browser = await launchChromium(chromium!);
    checkout = new Client(server.url);
    admin = await new Client(server.url).login('alice');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** The projections have caught up with every write so far. */
  async function settled() {
    await server.runtime.numbers.runner.waitUntilCaughtUp({ timeoutMs: 20_000 });
    await server.runtime.notifications.waitUntilIdle({ timeoutMs: 20_000 });
    await server.runtime.board.runner.waitUntilCaughtUp({ timeoutMs: 20_000 });
  }

  /** An order placed through the API, numbered, its notifications settled. */
  async function placedOrder(key: string): Promise<string> {
    const id = (await checkout.placeOrder(key)).body.order.id as string;
    await server.runtime.numbers.waitForNumber(id);
    await settled();
    return id;
  }

  /** A tab logged in as `name`, with console errors collected. */
  async function tab(name: string, beforeLogin?: (page: Page) => Promise<void>): Promise<Page & { errors: string[] }> {
    // Each tab in its own browser context: its own cookies, as two admins on two machines.
    const context = await browser.createBrowserContext();
    const page = Object.assign(await context.newPage(), { errors: [] as string[] });
    page.on('pageerror', (error) => page.errors.push(String(error)));
    await beforeLogin?.(page);
    await page.goto(server.url + '/');
    await page.waitForSelector('#login:not([hidden])');
    await page.type('#login input[name=username]', name);
    await page.type('#login input[name=password]', ADMINS.get(name)!);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#app', { visible: true });
    await page.waitForSelector('#login', { hidden: true });
    return page;
  }

  async function open(page: Page, orderId: string, { live = true } = {}) {
    await page.waitForSelector(`tr[data-order-id="${orderId}"]`);
    await page.click(`tr[data-order-id="${orderId}"]`);
    await page.waitForFunction(() => !document.getElementById('detail')!.hidden && document.getElementById('status')!.textContent !== '');
    if (live) await page.waitForFunction(() => document.getElementById('live')!.textContent === 'live');
  }

  const statusOf = (page: Page) => page.$eval('#status', (el) => el.textContent);
  const waitForStatus = (page: Page, status: string) =>
    page.waitForFunction((s) => document.getElementById('status')!.textContent === s, {}, status);

  async function statusChanges(orderId: string): Promise<{ data: { to: string } }[]> {
    const history = (await admin.send('GET', `/orders/${orderId}/history`)).body.history as { type: string; data: { to: string } }[];
    return history.filter((h) => h.type === 'OrderStatusChanged');
  }

  it('a double click on Confirm makes one status change and one notification per channel, and shows no error', async () => {
    const orderId = await placedOrder('browser-double-click');
    const page = await tab('alice');
    let statusRequests = 0;
    page.on('request', (request) => void (request.url().endsWith(`/orders/${orderId}/status`) && request.method() === 'POST' && statusRequests++));
    await open(page, orderId);

    // A real double click: the page acts on the first click only.
    await page.click('#actions button[data-to="confirmed"]', { count: 2 });
    await waitForStatus(page, 'confirmed');
    // Two clicks that both reach the server (a retry, a double tap): the same intent, one command.
    await page.$eval('#actions button[data-to="preparing"]', (button) => {
      (button as HTMLButtonElement).click();
      (button as HTMLButtonElement).click();
    });
    await waitForStatus(page, 'preparing');
    await settled();
    await page.waitForFunction(() => document.querySelector('#notifications li:last-child')?.getAttribute('data-status') === 'sent');

    expect(statusRequests).toBe(3);
    expect((await statusChanges(orderId)).map((c) => c.data.to)).toEqual(['confirmed', 'preparing']);
    const confirmedSends = server.sender.delivered.filter((n) => n.orderId === orderId && n.status === 'confirmed');
    expect(confirmedSends.map((n) => n.channel)).toEqual(['email']);
    expect(await page.$$eval('#notifications li', (lis) => lis.map((li) => li.textContent))).toEqual([
      'email · order-received · sent',
      'email · order-confirmed · sent',
    ]);
    expect(await page.$eval('#error', (el) => el.textContent)).toBe('');
    expect(await page.$eval('#conflict', (el) => (el as HTMLElement).hidden)).toBe(true);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it('two tabs: the stale one gets the 412 conflict with the new state and a reload; both follow live', async () => {
    const orderId = await placedOrder('browser-two-tabs');
    const tabA = await tab('alice');
    // Tab B's live updates are held back, as on a slow network: its screen goes stale.
    const held: HTTPRequest[] = [];
    let holding = true;
    const tabB = await tab('bob', async (page) => {
      await page.setRequestInterception(true);
      page.on('request', (request) => {
        if (holding && request.url().includes(`/orders/${orderId}/events`)) held.push(request);
        else void request.continue();
      });
    });
    await open(tabA, orderId);
    await open(tabB, orderId, { live: false });

    await tabA.click('#actions button[data-to="confirmed"]');
    await waitForStatus(tabA, 'confirmed');
    expect(await statusOf(tabB)).toBe('pending'); // stale

    await tabB.click('#actions button[data-to="cancelled"]');
    await tabB.waitForSelector('#conflict:not([hidden])');
    expect(await tabB.$eval('#conflict-text', (el) => el.textContent)).toMatch(/now confirmed .*not applied/);
    expect(await tabB.$('#reload')).not.toBeNull();

    // B's live stream gets through; A moves on; both show it without reloading.
    holding = false;
    for (const request of held) void request.continue();
    await tabA.click('#actions button[data-to="preparing"]');
    await Promise.all([waitForStatus(tabA, 'preparing'), waitForStatus(tabB, 'preparing')]);
    expect(await tabB.$eval('#actions', (el) => Array.from(el.querySelectorAll('button'), (b) => b.dataset.to))).toEqual(['ready', 'cancelled']);
    expect((await statusChanges(orderId)).map((c) => c.data.to)).toEqual(['confirmed', 'preparing']);
    const actors = (await admin.send('GET', `/orders/${orderId}/history`)).body.history.map((h: { actor: string }) => h.actor);
    expect(actors.slice(1)).toEqual(expect.arrayContaining(['admin:alice']));
    expect(actors).not.toContain('admin:bob');

    await settled();
    if (process.env.ORDO_SCREENSHOT) await tabB.screenshot({ path: process.env.ORDO_SCREENSHOT as `${string}.png`, fullPage: true });
    expect([...tabA.errors, ...tabB.errors]).toEqual([]);
    await tabA.close();
    await tabB.close();
  });

  it('a failing e-mail sender does not hold up the status change; the page shows it retrying, then sent', async () => {
    const orderId = await placedOrder('browser-failing-email');
    const page = await tab('alice');
    await open(page, orderId);
    server.sender.failing.add('email');
    try {
      await page.click('#actions button[data-to="confirmed"]');
      await waitForStatus(page, 'confirmed');
      expect(await page.$eval('#message', (el) => el.textContent)).toBe('The order is now confirmed.');
      const confirmedEmail = '#notifications li[data-channel="email"][data-key$=":email"]:last-child';
      await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-status') === 'retrying', {}, confirmedEmail);
      expect(await page.$eval(confirmedEmail, (el) => el.textContent)).toMatch(/order-confirmed · retrying.*503/);
    } finally {
      server.sender.failing.delete('email');
    }
    const confirmedEmail = '#notifications li[data-channel="email"]:last-child';
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-status') === 'sent', { timeout: 30_000 }, confirmedEmail);
    expect(server.sender.delivered.filter((n) => n.orderId === orderId && n.status === 'confirmed')).toHaveLength(1);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it('a payment webhook delivered five times shows one order with one number on the page', async () => {
    const page = await tab('bob');
    const payload = paymentPayload('browser-pay-5x', 'Five Times');
    const replies = await Promise.all(Array.from({ length: 5 }, () => deliverWebhook(server.url, '/webhooks/payments', payload)));
    const orderIds = new Set(replies.map((r) => r.body.orderId as string));
    expect(orderIds.size).toBe(1);
    const [orderId] = [...orderIds] as [string];
    const number = await page.waitForFunction(
      (id) => {
        const cell = document.querySelector(`tr[data-order-id="${id}"] td.number`);
        return cell && /^ORD-\d{8}-\d{4,}$/.test(cell.textContent ?? '') ? cell.textContent : false;
      },
      {},
      orderId,
    );
    expect(await number.jsonValue()).toBe(await server.runtime.numbers.waitForNumber(orderId));
    const rows = await page.$$eval('#orders tr', (trs) => trs.filter((tr) => tr.textContent?.includes('Five Times')).length);
    expect(rows).toBe(1);
    await eventually(async () => (await settled(), true));
    const history = (await admin.send('GET', `/orders/${orderId}/history`)).body.history as { type: string }[];
    expect(history.filter((h) => h.type === 'OrderPlaced')).toHaveLength(1);
    expect(history.filter((h) => h.type === 'OrderNumberAssigned')).toHaveLength(1);
    await page.close();
  });
});
