import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresReadModels, findOrderIdByNumber } from '@ordo/orders/postgres';
import { createTestStore, postgresUrl, type TestPostgresEventStore } from '../support/postgres.js';
import { waitUntil } from '../support/wait.js';
import { requireBuild, runCli, startCli } from './run-cli.js';

let store: TestPostgresEventStore;
let url: string;
const db = () => ['--url', url, '--schema', store.schema];

/** `count` OrderNumberAssigned events (what the order_numbers table is made from), in appends of 500. */
async function seedNumbers(from: number, count: number): Promise<void> {
  const stream = `order-${randomUUID()}`;
  let version: bigint | 'no_stream' = 'no_stream';
  for (let i = from; i < from + count; i += 500) {
    const events = Array.from({ length: Math.min(500, from + count - i) }, (_, k) => ({
      id: randomUUID(),
      type: 'OrderNumberAssigned',
      data: { number: `ORD-20260101-${String(i + k + 1).padStart(5, '0')}`, orderId: randomUUID(), day: '20260101', prefix: 'ORD' },
      metadata: { actor: 'numbering', commandId: `seed-${i + k}` },
    }));
    const result = await store.appendToStream(stream, events, { expectedVersion: version });
    version = result.nextExpectedVersion;
  }
}

beforeAll(async () => {
  requireBuild();
  url = postgresUrl();
  store = await createTestStore();
});
afterAll(async () => {
  await store?.close();
});

describe('ordo against PostgreSQL', () => {
  it('migrate --print-sql prints the SQL without running it; migrate creates the tables', async () => {
    const printed = await runCli(['migrate', '--print-sql', '--schema', 'ordo_printed']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('create table "ordo_printed".checkpoints');
    expect(printed.stdout).toContain('"ordo_printed".order_numbers');
    const exists = await store.pool.query(`select 1 from pg_namespace where nspname = 'ordo_printed'`);
    expect(exists.rowCount).toBe(0);

    const migrated = await runCli(['migrate', ...db()]);
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/order tables applied 1/);
    const again = await runCli(['migrate', ...db()]);
    expect(again.stdout).toMatch(/event store up to date; order tables up to date/);
  });

  it('status shows each checkpoint with its lag; rebuild replaces a broken table and resumes after SIGINT', async () => {
    await seedNumbers(0, 1500);
    const readModels = createPostgresReadModels({ store });
    await readModels.start();
    await readModels.waitUntilCaughtUp();

    const status = await runCli(['status', ...db()]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/read-model:order_numbers\s+1500\s+0\s+caught up/);

    // The table goes wrong (a bad hand edit): a rebuild derives it again from the log.
    await store.pool.query(`delete from "${store.schema}".order_numbers where number like '%1'`);

    const dry = await runCli(['rebuild', 'read-model:order_numbers', '--dry-run', ...db()]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('1500 events to handle');

    // Interrupted once it has made progress; the live runner keeps running meanwhile.
    const first = startCli(['rebuild', 'read-model:order_numbers', '--batch-size', '1', '--progress-every', '0', ...db()]);
    await waitUntil(() => /events \(\d+%\)/.test(first.output().stderr), 'the first progress line');
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toMatch(/Run `ordo rebuild read-model:order_numbers` again to resume/);
    const during = await runCli(['status', '--json', ...db()]);
    const shadow = JSON.parse(during.stdout).projections.find((p: { name: string }) => p.name === 'read-model:order_numbers#rebuild');
    expect(shadow.state).toBe('rebuilding');
    expect(BigInt(shadow.position)).toBeGreaterThan(0n);
    expect(BigInt(shadow.position)).toBeLessThan(1500n);

    await seedNumbers(1500, 20); // the log moves on while the rebuild is paused
    const resumed = await runCli(['rebuild', 'read-model:order_numbers', ...db()]);
    expect(resumed.stderr).not.toContain('Error');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/resumed at position \d+/);
    expect(resumed.stdout).toContain('swapped in');

    await readModels.waitUntilCaughtUp();
    const count = await store.pool.query(`select count(*)::int as n from "${store.schema}".order_numbers`);
    expect(count.rows[0].n).toBe(1520);
    expect(await findOrderIdByNumber(store.pool, 'ORD-20260101-00011', { schema: store.schema })).toBeDefined();
    const indexes = await store.pool.query(`select indexname from pg_indexes where schemaname = $1 and tablename = 'order_numbers' order by 1`, [store.schema]);
    expect(indexes.rows.map((r) => r.indexname)).toEqual(['order_numbers_order_id_key', 'order_numbers_pkey']);
    const after = await runCli(['status', '--json', ...db()]);
    expect(JSON.parse(after.stdout).projections.map((p: { name: string }) => p.name)).not.toContain('read-model:order_numbers#rebuild');

    // The live runner, fenced by the swap, carries on into the new table.
    await seedNumbers(1520, 5);
    await readModels.waitUntilCaughtUp();
    const live = await store.pool.query(`select count(*)::int as n from "${store.schema}".order_numbers`);
    expect(live.rows[0].n).toBe(1525);
    await readModels.stop();
  });

  it('rebuild order-numbers is a replay: nothing to swap, and no shadow checkpoint left behind', async () => {
    const replayed = await runCli(['rebuild', 'order-numbers', ...db()]);
    expect(replayed.stderr).not.toContain('ordo:');
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain('replayed (effects re-derived; repeats absorbed)');
    const names = JSON.parse((await runCli(['status', '--json', ...db()])).stdout).projections.map((p: { name: string }) => p.name);
    expect(names).not.toContain('order-numbers#rebuild');
  });

  it('stream prints an audit trail; tail follows the log until SIGINT', async () => {
    const stream = `order-${randomUUID()}`;
    await store.appendToStream(stream, [{ id: randomUUID(), type: 'OrderCancelled', data: { reason: 'customer asked' }, metadata: { actor: 'alice', commandId: 'cmd-1' } }], { expectedVersion: 'no_stream' });
    const trail = await runCli(['stream', stream, ...db()]);
    expect(trail.code).toBe(0);
    expect(trail.stdout).toMatch(/0\s+\S+\s+OrderCancelled\s+alice\s+customer asked; command cmd-1/);
    const json = JSON.parse((await runCli(['stream', stream, '--json', ...db()])).stdout);
    expect(json.events[0]).toMatchObject({ type: 'OrderCancelled', who: 'alice' });

    const tail = startCli(['tail', '--filter', 'OrderShipped', ...db()]);
    await waitUntil(() => tail.output().stderr.includes('Following the log'), 'tail to start');
    await store.appendToStream(stream, [
      { id: randomUUID(), type: 'OrderNoted', data: {} },
      { id: randomUUID(), type: 'OrderShipped', data: { carrier: 'post' }, metadata: { actor: 'bob' } },
    ], { expectedVersion: 0n });
    await waitUntil(() => tail.output().stdout.includes('OrderShipped'), 'the tailed event');
    tail.child.kill('SIGINT');
    const tailed = await tail.done;
    expect(tailed.code).toBe(0);
    expect(tailed.stdout).toContain(`${stream}@2  OrderShipped  bob`);
    expect(tailed.stdout).not.toContain('OrderNoted');
  });

  it('lifecycle prints the table and the Mermaid diagram', async () => {
    const table = await runCli(['lifecycle']);
    expect(table.stdout).toMatch(/pending\s+initial\s+confirmed, submitting, cancelled/);
    expect((await runCli(['lifecycle', '--mermaid'])).stdout).toContain('stateDiagram-v2');
  });

  it('says what is wrong, without a stack: exit 2 for usage, 1 at run time', async () => {
    const noUrl = await runCli(['status']);
    expect(noUrl).toMatchObject({ code: 2 });
    expect(noUrl.stderr).toContain('pass --url');
    const badUrl = await runCli(['status', '--url', 'mysql://x']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('Not a PostgreSQL URL');
    const unknown = await runCli(['rebuild', 'no-such-projection', ...db()]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown projection "no-such-projection"');
    const down = await runCli(['status', '--url', 'postgres://127.0.0.1:1/none']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('PostgreSQL stayed unreachable');
    expect(down.stderr).not.toMatch(/\n\s+at /);
    const missing = await runCli(['stream', `order-${randomUUID()}`, ...db()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
    const notMigrated = await runCli(['status', '--url', url, '--schema', 'ordo_never_migrated']);
    expect(notMigrated.code).toBe(1);
    expect(notMigrated.stderr).toContain('ordo migrate');
  });
});
