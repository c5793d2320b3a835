import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createCommandHandler,
  defineEventSchemas,
  EventSchemaError,
  MemoryEventStore,
  OrdoError,
  withEventSchemas,
  type Decider,
} from '@ordo/core';

// Version 1 recorded `{ by }`; version 2 renamed it to `amount`; version 3 added `unit`.
const schemas = defineEventSchemas({
  Added: {
    version: 3,
    schema: z.object({ amount: z.number().int(), unit: z.string() }),
    upcast: {
      1: (data) => ({ amount: (data as { by: number }).by }),
      2: (data) => ({ ...(data as object), unit: 'piece' }),
    },
    downcast: {
      3: (data) => ({ amount: (data as { amount: number }).amount }),
      2: (data) => ({ by: (data as { amount: number }).amount }),
    },
  },
});

type Added = { type: 'Added'; data: { amount: number; unit: string } };
const counter: Decider<{ by: number }, Added, number> = {
  initialState: 0,
  decide: (command) => [{ type: 'Added', data: { amount: command.by, unit: 'piece' } }],
  evolve: (state, event) => (event.type === 'Added' ? state + event.data.amount : state),
};

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** A store holding one stream written by three generations of code. */
async function mixedStore() {
  const raw = new MemoryEventStore();
  await raw.appendToStream('counter-1', [
    { id: id(1), type: 'Added', data: { by: 1 } }, // version 1: no schemaVersion at all
    { id: id(2), type: 'Added', data: { amount: 2 }, metadata: { schemaVersion: 2 } },
    { id: id(3), type: 'Added', data: { amount: 3, unit: 'piece' }, metadata: { schemaVersion: 3 } },
    { id: id(4), type: 'Other', data: { anything: true } },
  ], { expectedVersion: 'no_stream' });
  return { raw, store: withEventSchemas(raw, schemas) };
}

describe('withEventSchemas', () => {
  it('upcasts every stored version on readStream, readAll and subscribeToAll, and leaves unknown types alone', async () => {
    const { store } = await mixedStore();
    const expected = [{ amount: 1, unit: 'piece' }, { amount: 2, unit: 'piece' }, { amount: 3, unit: 'piece' }, { anything: true }];
    expect((await store.readStream('counter-1')).events.map((e) => e.data)).toEqual(expected);
    const all: unknown[] = [];
    for await (const e of store.readAll()) all.push(e.data);
    expect(all).toEqual(expected);
    const seen: unknown[] = [];
    const sub = store.subscribeToAll({ onEvent: (e) => void seen.push(e.data), onCaughtUp: () => void sub.stop() });
    await sub.done;
    expect(seen).toEqual(expected);
  });

  it('the command handler folds old and new versions alike and stamps the current version on append', async () => {
    const { raw, store } = await mixedStore();
    const handler = createCommandHandler({ store, decider: counter });
    const result = await handler.handle('counter-1', { by: 10 }, { commandId: 'c-1' });
    expect(result.state).toBe(16);
    const last = (await raw.readStream('counter-1')).events.at(-1)!;
    expect(last.metadata.schemaVersion).toBe(3);
  });

  it('writes an older version through the downcasters when asked, and reads it back as current', async () => {
    const raw = new MemoryEventStore();
    const store = withEventSchemas(raw, schemas, { writeVersions: { Added: 1 } });
    await store.appendToStream('counter-2', [{ id: id(9), type: 'Added', data: { amount: 5, unit: 'piece' } }], { expectedVersion: 'any' });
    const stored = (await raw.readStream('counter-2')).events[0]!;
    expect(stored.data).toEqual({ by: 5 });
    expect(stored.metadata.schemaVersion).toBe(1);
    expect((await store.readStream('counter-2')).events[0]!.data).toEqual({ amount: 5, unit: 'piece' });
  });

  it('refuses an event that fails its schema after upcasting, naming stream, version and field', async () => {
    const raw = new MemoryEventStore();
    await raw.appendToStream('counter-3', [{ id: id(5), type: 'Added', data: { by: 'two' } }], { expectedVersion: 'any' });
    const error = await withEventSchemas(raw, schemas).readStream('counter-3').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventSchemaError);
    expect(error).toBeInstanceOf(OrdoError);
    expect(error).toMatchObject({ code: 'event_schema', stream: 'counter-3', streamVersion: 0n, eventType: 'Added', schemaVersion: 1 });
    expect((error as EventSchemaError).issues.map((i) => i.path)).toEqual(['amount']);
  });

  it('refuses an event newer than the code knows, and a subscription stops with the error', async () => {
    const raw = new MemoryEventStore();
    await raw.appendToStream('counter-4', [{ id: id(6), type: 'Added', data: {}, metadata: { schemaVersion: 4 } }], { expectedVersion: 'any' });
    let failure: unknown;
    const sub = withEventSchemas(raw, schemas).subscribeToAll({ onEvent: () => undefined, onError: (e) => (failure = e) });
    await sub.done;
    expect(failure).toBeInstanceOf(EventSchemaError);
    expect((failure as EventSchemaError).message).toContain('newer than this code knows (3)');
  });

  it('refuses to append data that fails the current schema; nothing is written', async () => {
    const raw = new MemoryEventStore();
    const store = withEventSchemas(raw, schemas);
    await expect(
      store.appendToStream('counter-5', [{ id: id(7), type: 'Added', data: { amount: 1.5, unit: 'piece' } }], { expectedVersion: 'any' }),
    ).rejects.toBeInstanceOf(EventSchemaError);
    expect(await raw.headPosition()).toBe(0n);
  });

  it('passes methods it does not wrap through to the store (a method the port gains later)', async () => {
    class ExtendedStore extends MemoryEventStore {
      #secret = 42;
      extra(): number {
        return this.#secret;
      }
    }
    const store = withEventSchemas(new ExtendedStore(), schemas);
    expect(store.extra()).toBe(42);
    expect(store).toBeInstanceOf(ExtendedStore);
    expect(await store.headPosition()).toBe(0n);
  });

  it('refuses a registry with a missing upcast step', () => {
    expect(() => defineEventSchemas({ X: { version: 3, schema: z.object({}), upcast: { 1: (d) => d } } })).toThrow(/no upcast from version 2 to 3/);
  });
});

