/**
 * The "invisible row" race: a transaction draws a global position, and before it commits, later
 * positions commit and become visible. A reader that trusts the bare sequence passes the hole and
 * never sees the late event. These tests hold appends open on a second connection and check that
 * readers stop at the hole, and deliver the held event, in order, once, when it commits.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { START, type NewEvent } from '@ordo/core';
import { createTestStore, postgresUrl, type TestPostgresEventStore } from '../support/postgres.js';
import { recordingSubscription } from '../support/recording-subscription.js';
import { waitUntil } from '../support/wait.js';

const event = (type = 'Held'): NewEvent => ({ id: randomUUID(), type, data: { at: type } });

describe('the global log behind a transaction that has not committed yet', () => {
  let store: TestPostgresEventStore;
  const clients: pg.Client[] = [];

  beforeEach(async () => {
    // A short poll interval: a hole closed by a bare COMMIT sends no notification.
    store = await createTestStore({ pollIntervalMs: 50 });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    await store.close();
  });

  /** A second connection, as another service instance would have. */
  async function connection(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    clients.push(client);
    return client;
  }

  /** Calls the store's append function inside an open transaction on `client`. */
  async function appendInOpenTransaction(client: pg.Client, stream: string, events: NewEvent[]) {
    await client.query('begin');
    const { rows } = await client.query<{ status: string; last_position: string }>(
      `select status, last_position from "${store.schema}".append_events($1, 'any', null, $2::uuid[], $3::text[], $4::json[], $5::json[])`,
      [stream, events.map((e) => e.id), events.map((e) => e.type), events.map((e) => JSON.stringify(e.data)), events.map(() => '{}')],
    );
    expect(rows[0]!.status).toBe('ok');
    return BigInt(rows[0]!.last_position);
  }

  async function readAllIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const e of store.readAll()) ids.push(e.id);
    return ids;
  }

  /** Ids in position order as a naive reader sees them: every committed row, no fence. */
  async function committedIdsWithoutFence(): Promise<string[]> {
    const { rows } = await store.pool.query<{ event_id: string }>(
      `select event_id from "${store.schema}".events order by global_position`,
    );
    return rows.map((r) => r.event_id);
  }

  const subscribe = () => recordingSubscription(store);


  it('a subscriber stops at the hole and delivers the held event, in order, exactly once, when it commits', async () => {
    const before = event('Before');
    await store.appendToStream('s-before', [before], { expectedVersion: 'no_stream' });
    const sub = subscribe();
    await waitUntil(() => sub.received.length === 1, 'the first event');

    const holder = await connection();
    const held = event('Held');
    const heldPosition = await appendInOpenTransaction(holder, 's-held', [held]);

    const later = [event('Later1'), event('Later2')];
    const r1 = await store.appendToStream('s-later-1', [later[0]!], { expectedVersion: 'no_stream' });
    const r2 = await store.appendToStream('s-later-2', [later[1]!], { expectedVersion: 'no_stream' });
    expect(r1.lastGlobalPosition).toBeGreaterThan(heldPosition);
    expect(r2.lastGlobalPosition).toBeGreaterThan(r1.lastGlobalPosition);

    // The later events have committed: a reader without the fence would deliver them now and
    // never go back for the held one.
    expect(await committedIdsWithoutFence()).toEqual([before.id, later[0]!.id, later[1]!.id]);

    // Readers of the store stop before the hole.
    await sub.idleTwice();
    expect(sub.received.map((e) => e.id)).toEqual([before.id]);
    expect(await readAllIds()).toEqual([before.id]);
    expect(await store.headPosition()).toBeLessThan(heldPosition);

    await holder.query('commit');

    await waitUntil(() => sub.received.length >= 4, 'the held and the later events');
    await sub.idleTwice();
    expect(sub.received.map((e) => e.id)).toEqual([before.id, held.id, later[0]!.id, later[1]!.id]);
    expect(sub.received.map((e) => e.globalPosition)).toEqual(
      [...sub.received.map((e) => e.globalPosition)].sort((a, b) => (a < b ? -1 : 1)),
    );
    expect(sub.received[1]!.globalPosition).toBe(heldPosition);
    expect(await readAllIds()).toEqual(sub.received.map((e) => e.id));
    expect(await store.headPosition()).toBe(r2.lastGlobalPosition);
    expect(sub.errors).toEqual([]);
  });

  it('two holes that commit in the opposite order are delivered in position order', async () => {
    const sub = subscribe();
    const first = await connection();
    const second = await connection();
    const a = event('A');
    const b = event('B');
    const posA = await appendInOpenTransaction(first, 's-a', [a]);
    const posB = await appendInOpenTransaction(second, 's-b', [b]);
    expect(posB).toBeGreaterThan(posA);
    const c = event('C');
    await store.appendToStream('s-c', [c], { expectedVersion: 'no_stream' });

    await second.query('commit');
    await sub.idleTwice();
    expect(sub.received).toEqual([]);
    expect(await readAllIds()).toEqual([]);

    await first.query('commit');
    await waitUntil(() => sub.received.length >= 3, 'all three events');
    await sub.idleTwice();
    expect(sub.received.map((e) => e.id)).toEqual([a.id, b.id, c.id]);
  });

  it('a hole that rolls back leaves a gap in positions, and the events after it are delivered', async () => {
    const sub = subscribe();
    const holder = await connection();
    const dropped = event('Dropped');
    const droppedPosition = await appendInOpenTransaction(holder, 's-dropped', [dropped]);
    const after = event('After');
    const r = await store.appendToStream('s-after', [after], { expectedVersion: 'no_stream' });
    await sub.idleTwice();
    expect(sub.received).toEqual([]);

    await holder.query('rollback');
    await waitUntil(() => sub.received.length >= 1, 'the event after the hole');
    await sub.idleTwice();
    expect(sub.received.map((e) => e.id)).toEqual([after.id]);
    expect(r.lastGlobalPosition).toBeGreaterThan(droppedPosition);
    expect(await store.readStream('s-dropped')).toEqual({ version: null, events: [] });
  });

  it('a long transaction that is not an append holds the log back until it ends (the cost of the fence)', async () => {
    const sub = subscribe();
    const other = await connection();
    await other.query('begin');
    await other.query('select pg_current_xact_id()'); // any transaction that has written
    const e = event('WhileOtherRuns');
    const r = await store.appendToStream('s-while', [e], { expectedVersion: 'no_stream' });
    await sub.idleTwice();
    expect(sub.received).toEqual([]);
    expect(await store.headPosition()).toBe(START);

    await other.query('commit');
    await waitUntil(() => sub.received.length >= 1, 'the event once the other transaction ended');
    expect(sub.received.map((x) => x.id)).toEqual([e.id]);
    expect(await store.headPosition()).toBe(r.lastGlobalPosition);
  });

  it('refuses an append that is not the first write of its transaction', async () => {
    const client = await connection();
    await client.query('begin');
    await client.query('select pg_current_xact_id()');
    const e = event();
    await expect(
      client.query(
        `select * from "${store.schema}".append_events('s', 'any', null, array[$1::uuid], array['T'], array['{}'::json], array['{}'::json])`,
        [e.id],
      ),
    ).rejects.toMatchObject({ code: '25001' });
    await client.query('rollback');
    expect(await store.readStream('s')).toEqual({ version: null, events: [] });
  });
});
