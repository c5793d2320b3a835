/**
 * `ordo stream` and `ordo tail` against EventStoreDB: the built binary, in its own process, connects
 * to the in-process test server by its connection string, as an operator's would to a real one.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventStoreDBEventStore } from '@ordo/eventstoredb';
import { inProcessServer } from '../eventstoredb/support.js';
import { waitUntil } from '../support/wait.js';
import { requireBuild, runCli, startCli } from './run-cli.js';

const server = inProcessServer();
let url: string;
let store: EventStoreDBEventStore;

beforeAll(async () => {
  requireBuild();
  url = (await server.server()).url;
  store = new EventStoreDBEventStore(await server.client());
});

describe('ordo against EventStoreDB', () => {
  it('stream prints the audit trail from --esdb-url; tail follows the log from EVENTSTOREDB_URL until SIGINT', async () => {
    const stream = `order-${randomUUID()}`;
    await store.appendToStream(stream, [{ id: randomUUID(), type: 'OrderCancelled', data: { reason: 'customer asked' }, metadata: { actor: 'alice', commandId: 'cmd-1' } }], { expectedVersion: 'no_stream' });
    const trail = await runCli(['stream', stream, '--esdb-url', url]);
    expect(trail.stderr).toBe('');
    expect(trail.code).toBe(0);
    expect(trail.stdout).toMatch(/0\s+\S+\s+OrderCancelled\s+alice\s+customer asked; command cmd-1/);
    const json = JSON.parse((await runCli(['stream', stream, '--json'], { EVENTSTOREDB_URL: url })).stdout);
    expect(json.events[0]).toMatchObject({ type: 'OrderCancelled', who: 'alice' });

    const tail = startCli(['tail', '--filter', 'OrderShipped'], { EVENTSTOREDB_URL: url });
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

  it('says what is wrong: a missing stream, a bad URL, two stores at once', async () => {
    const missing = await runCli(['stream', `order-${randomUUID()}`, '--esdb-url', url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
    const bad = await runCli(['stream', 'order-1', '--esdb-url', 'http://localhost:2113']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Not an EventStoreDB URL');
    const both = await runCli(['stream', 'order-1', '--esdb-url', url, '--url', 'postgres://localhost/none']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give one');
  });
});
