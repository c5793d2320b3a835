import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MemoryCheckpointStore,
  ValidationError,
  createProjectionRunner,
  eventIdFor,
  type CheckpointStore,
  type EventStore,
  type ProjectionRunner,
  type RecordedEvent,
} from '@ordo/core';
import {
  NUMBER_ASSIGNED,
  OrderNumberTimeoutError,
  createOrderNumbers,
  createOrderService,
  findOrderByNumber,
  formatOrderNumber,
  numberingStream,
  orderDay,
  orderIdFor,
  orderNumbersProjection,
  orderStream,
  parseOrderNumber,
  waitForNumber,
  type OrderPlaced,
} from '@ordo/orders';
import {
  LostResponseError,
  checkpointChainIssues,
  checkpointsFromHead,
  drive,
  orderInput,
  readLog,
  recordingCheckpoints,
  runToken,
  scheduledStore,
  withScheduledStore,
  withStore,
  type CheckpointWrite,
  type OpenStore,
} from './helpers.js';

const DAY_MS = 86_400_000;
/** A Friday; Europe/Berlin moves to summer time early on the Sunday after. */
const BASE = Date.parse('2026-03-27T00:00:00.000Z');

/** Counts the store calls that go through it. */
function countingStore(inner: EventStore) {
  const calls = { readStream: 0, readAll: 0, appendToStream: 0, appendToStreams: 0 };
  const store: EventStore = {
    appendToStream: (...args) => (calls.appendToStream++, inner.appendToStream(...args)),
    appendToStreams: (requests) => (calls.appendToStreams++, inner.appendToStreams(requests)),
    readStream: (...args) => (calls.readStream++, inner.readStream(...args)),
    readAll: (...args) => (calls.readAll++, inner.readAll(...args)),
    subscribeToAll: (opts) => inner.subscribeToAll(opts),
    headPosition: () => inner.headPosition(),
    close: () => inner.close(),
  };
  return { store, calls };
}

/** The OrderNumberAssigned events of an order. */
async function numbersOf(store: EventStore, orderId: string): Promise<string[]> {
  const read = await store.readStream(orderStream(orderId));
  return read.events.filter((e) => e.type === 'OrderNumberAssigned').map((e) => (e.data as { number: string }).number);
}

/**
 * Runs a numbering worker over `store` until `work` is done and it has caught up. It starts after
 * `from` (default: the store's current head), so it sees only what the test writes.
 */
async function withNumbering<T>(
  store: EventStore,
  options: { prefix?: string; timeZone?: string; from?: bigint },
  work: (runner: ProjectionRunner) => Promise<T>,
): Promise<T> {
  const name = `order-numbers-${runToken()}`;
  const checkpoints = new MemoryCheckpointStore();
  await checkpoints.store(name, options.from ?? (await store.headPosition()), null);
  const runner = createProjectionRunner({
    store,
    checkpoints,
    projection: orderNumbersProjection({
      store,
      name,
      ...(options.prefix !== undefined && { prefix: options.prefix }),
      ...(options.timeZone !== undefined && { timeZone: options.timeZone }),
    }),
  });
  await runner.start();
  try {
    const result = await work(runner);
    await runner.waitUntilCaughtUp({ timeoutMs: 20_000 });
    return result;
  } finally {
    await runner.stop();
  }
}

/** Unit-sized tests of order numbers: format, days, validation, lookups. */
export function orderNumbersSuite(open: OpenStore): void {
  describe('order numbers', () => {
    it('formats PREFIX-YYYYMMDD-NNNN with at least four digits, wider past 9999, and parses back', () => {
      expect(formatOrderNumber('GAM', '20261123', 1)).toBe('GAM-20261123-0001');
      expect(formatOrderNumber('GAM', '20261123', 9999)).toBe('GAM-20261123-9999');
      expect(formatOrderNumber('GAM', '20261123', 10_000)).toBe('GAM-20261123-10000');
      expect(formatOrderNumber('G2', '20261123', 1_234_567)).toBe('G2-20261123-1234567');
      for (const sequence of [1, 42, 9999, 10_000, 1_234_567]) {
        expect(parseOrderNumber(formatOrderNumber('G2', '20261123', sequence))).toEqual({ prefix: 'G2', day: '20261123', sequence });
      }
      expect(parseOrderNumber('GAM-20261123-001')).toBeUndefined();
      expect(parseOrderNumber('GAM-20261123-0000')).toBeUndefined();
      expect(parseOrderNumber('gam-20261123-0001')).toBeUndefined();
    });

    it('the day is the calendar day in the configured time zone', () => {
      expect(orderDay('2026-11-23T23:30:00Z', 'UTC')).toBe('20261123');
      expect(orderDay('2026-11-23T23:30:00Z', 'Europe/Berlin')).toBe('20261124');
      expect(orderDay('2026-11-24T03:30:00Z', 'America/New_York')).toBe('20261123');
      expect(orderDay(new Date('2026-11-23T18:29:00Z'), 'Asia/Kolkata')).toBe('20261123');
      expect(orderDay(new Date('2026-11-23T18:30:00Z'), 'Asia/Kolkata')).toBe('20261124');
      // Around the switch to summer time (29 March 2026, 01:00 UTC).
      expect(orderDay('2026-03-28T22:59:59Z', 'Europe/Berlin')).toBe('20260328');
      expect(orderDay('2026-03-28T23:00:00Z', 'Europe/Berlin')).toBe('20260329');
      expect(orderDay('2026-03-29T21:59:59Z', 'Europe/Berlin')).toBe('20260329');
      expect(orderDay('2026-03-29T22:00:00Z', 'Europe/Berlin')).toBe('20260330');
    });

    it('refuses a bad prefix or time zone with a ValidationError naming the field', () =>
      withStore(open, async (store) => {
        for (const prefix of ['gam', '', '1AB', 'ABCDEFGHIJK', 'GA-M']) {
          for (const make of [() => orderNumbersProjection({ store, prefix }), () => createOrderNumbers({ store, prefix })]) {
            const error = (() => {
              try {
                make();
              } catch (e) {
                return e;
              }
            })();
            expect(error, prefix).toBeInstanceOf(ValidationError);
            expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['prefix']);
          }
        }
        for (const timeZone of ['Mars/Olympus_Mons', 'Europe/Berlinn', '']) {
          for (const make of [() => orderNumbersProjection({ store, timeZone }), () => createOrderNumbers({ store, timeZone })]) {
            expect(make, timeZone).toThrow(ValidationError);
            try {
              make();
            } catch (e) {
              expect((e as ValidationError).issues.map((i) => i.path)).toEqual(['timeZone']);
            }
          }
        }
      }));

    it('where the store can, claims and the orders\' numbers are one append per day and prefix, in one run of the log', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const prefix = `M${token}`;
        const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
        const { store: counting, calls } = countingStore(store);
        const placed = await withNumbering(counting, { prefix }, async () => {
          const ids: string[] = [];
          for (let i = 0; i < 3; i++) ids.push((await orders.placeOrder(orderInput(`atomic-${token}-${i}`))).orderId);
          return ids;
        });
        for (const [i, orderId] of placed.entries()) expect(await numbersOf(store, orderId)).toEqual([`${prefix}-20261123-000${i + 1}`]);
        if (calls.appendToStreams === 0 || calls.appendToStream > 0) {
          // A store without atomic multi-stream appends: claims first, then one append per order.
          expect(calls.appendToStream).toBeGreaterThanOrEqual(1 + placed.length);
          return;
        }
        // Each claim and its order's number were written by one call: adjacent in the global log.
        const claims = (await store.readStream(numberingStream(prefix, '20261123'))).events;
        for (const [i, orderId] of placed.entries()) {
          const assigned = (await store.readStream(orderStream(orderId))).events.find((e) => e.type === 'OrderNumberAssigned')!;
          expect(assigned.metadata).toMatchObject({ commandId: `order-number:${orderId}`, actor: 'order-numbers' });
          const call = [claims[i]!.globalPosition, assigned.globalPosition];
          const between: string[] = [];
          for await (const e of store.readAll({ after: call[0]! , maxCount: 64 })) {
            if (e.globalPosition >= call[1]!) break;
            between.push(e.type);
          }
          expect(between.every((type) => type === 'NumberAssigned' || type === 'OrderNumberAssigned')).toBe(true);
        }
      }));

    it('numbers an order by its day in the time zone: 23:30 UTC is the next day in Berlin', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const prefix = `B${token}`;
        const orders = createOrderService({ store, clock: () => new Date('2026-11-23T23:30:00Z') });
        const { orderId } = await withNumbering(store, { prefix, timeZone: 'Europe/Berlin' }, async () =>
          orders.placeOrder(orderInput(`tz-${token}`)),
        );
        expect(await numbersOf(store, orderId)).toEqual([`${prefix}-20261124-0001`]);
        expect((await orders.getOrder(orderId)).number).toBe(`${prefix}-20261124-0001`);
      }));

    it('hands out number 10000 after 9999 rather than failing', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const prefix = `W${token}`;
        const day = '20261123';
        const stream = numberingStream(prefix, day);
        await store.appendToStream(
          stream,
          Array.from({ length: 9999 }, (_, i) => ({
            id: eventIdFor(stream, `filler-${token}`, i),
            type: NUMBER_ASSIGNED,
            data: { orderId: orderIdFor(`filler-${token}-${i}`), number: formatOrderNumber(prefix, day, i + 1) },
          })),
          { expectedVersion: 'no_stream' },
        );
        const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
        const { orderId } = await withNumbering(store, { prefix }, async () => orders.placeOrder(orderInput(`wide-${token}`)));
        expect(await numbersOf(store, orderId)).toEqual([`${prefix}-${day}-10000`]);
        expect(await findOrderByNumber(store, `${prefix}-${day}-10000`)).toBe(orderId);
      }));

    it('findOrderByNumber is one stream read', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const prefix = `F${token}`;
        const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
        const placed = await withNumbering(store, { prefix }, async () => {
          const ids: string[] = [];
          for (let i = 0; i < 3; i++) ids.push((await orders.placeOrder(orderInput(`find-${token}-${i}`))).orderId);
          return ids;
        });
        const { store: counting, calls } = countingStore(store);
        const second = (await numbersOf(store, placed[1]!))[0]!;
        expect(second).toBe(`${prefix}-20261123-0002`);
        expect(await findOrderByNumber(counting, second)).toBe(placed[1]);
        expect(calls).toEqual({ readStream: 1, readAll: 0, appendToStream: 0, appendToStreams: 0 });
        expect(await findOrderByNumber(counting, `${prefix}-20261123-0004`)).toBeUndefined();
        expect(await findOrderByNumber(counting, `${prefix}-20261124-0001`)).toBeUndefined();
        expect(calls.readStream).toBe(3);
        expect(await findOrderByNumber(counting, 'not a number')).toBeUndefined();
        expect(calls).toEqual({ readStream: 3, readAll: 0, appendToStream: 0, appendToStreams: 0 });
      }));

    it('waitForNumber resolves with the number once the projection assigns it', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const prefix = `N${token}`;
        const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
        const from = await store.headPosition();
        const { orderId } = await orders.placeOrder(orderInput(`wait-${token}`));
        const waiting = waitForNumber(store, orderId, { timeoutMs: 20_000 });
        expect(await numbersOf(store, orderId)).toEqual([]); // no worker yet: the caller is waiting
        const number = await withNumbering(store, { prefix, from }, () => waiting);
        expect(number).toBe(`${prefix}-20261123-0001`);
        expect((await orders.getOrder(orderId)).number).toBe(number);
      }));

    it('waitForNumber gives up with OrderNumberTimeoutError when nothing numbers the order', () =>
      withStore(open, async (store) => {
        const orders = createOrderService({ store });
        const { orderId } = await orders.placeOrder(orderInput(`nobody-${runToken()}`));
        const numbers = createOrderNumbers({ store, prefix: `T${runToken()}` }); // never started
        for (const wait of [() => waitForNumber(store, orderId, { timeoutMs: 30 }), () => numbers.waitForNumber(orderId, { timeoutMs: 30 })]) {
          const error = await wait().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(OrderNumberTimeoutError);
          expect(error).toMatchObject({ orderId, timeoutMs: 30 });
        }
        expect(await numbersOf(store, orderId)).toEqual([]);
      }));

    it('a second numbering worker started later numbers nothing twice', () =>
      withStore(open, async (store) => {
        const token = runToken();
        const prefix = `S${token}`;
        const start = await store.headPosition();
        const orders = createOrderService({ store, clock: () => new Date('2026-11-23T12:00:00Z') });
        const ids = await withNumbering(store, { prefix }, async () => {
          const placed = [];
          for (let i = 0; i < 4; i++) placed.push((await orders.placeOrder(orderInput(`again-${token}-${i}`))).orderId);
          return placed;
        });
        // Another worker replays the same events from before they were placed.
        const name = `order-numbers-${token}-late`;
        const checkpoints = new MemoryCheckpointStore();
        await checkpoints.store(name, start, null);
        const late = createProjectionRunner({ store, checkpoints, projection: orderNumbersProjection({ store, name, prefix }) });
        await late.start();
        await late.waitUntilCaughtUp({ timeoutMs: 20_000 });
        await late.stop();
        for (const [i, id] of ids.entries()) expect(await numbersOf(store, id)).toEqual([formatOrderNumber(prefix, '20261123', i + 1)]);
        expect((await store.readStream(numberingStream(prefix, '20261123'))).events).toHaveLength(4);
      }));
  });
}

/** One generated checkout. */
interface Checkout {
  day: number;
  minute: number;
  /** Index into the run's prefixes, or undefined for the projection's default prefix. */
  prefix: number | undefined;
  /** How many times the checkout places the order (payment callbacks, double submits). */
  placements: number;
  /** The first placement's answer is lost after the write; the caller retries. */
  lostResponse: boolean;
}

interface Worker {
  checkpointEvery: number;
  /** Shares the checkpoint of worker 0 (or keeps its own). */
  shared: boolean;
}

const checkoutArb: fc.Arbitrary<Checkout> = fc.record({
  day: fc.integer({ min: 0, max: 3 }),
  minute: fc.integer({ min: 0, max: 24 * 60 - 1 }),
  prefix: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  placements: fc.integer({ min: 1, max: 3 }),
  lostResponse: fc.boolean(),
});

const workerArb: fc.Arbitrary<Worker> = fc.record({ checkpointEvery: fc.integer({ min: 1, max: 10 }), shared: fc.boolean() });

const scenarioArb = (orders: fc.Arbitrary<Checkout[]>, minWorkers = 1): fc.Arbitrary<Scenario> =>
  fc.record({
    timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
    checkouts: orders,
    workers: fc.array(workerArb, { minLength: minWorkers, maxLength: 3 }),
    restart: fc.record({ worker: fc.nat(), fresh: fc.boolean() }),
  });

interface Scenario {
  timeZone: string;
  checkouts: Checkout[];
  workers: Worker[];
  /** Which worker is stopped and started again mid-run, and whether as a fresh instance. */
  restart: { worker: number; fresh: boolean };
}

/**
 * Opens another store instance over the log of `store` (its own connections), for one numbering
 * worker; the run closes it.
 */
export type WorkerStore = (store: EventStore) => Promise<{ store: EventStore; close(): Promise<void> }>;

/**
 * One run: concurrent checkouts (with duplicates and lost answers) and 1-3 numbering workers, one
 * restarted mid-run, all store calls interleaved by the scheduler; then checks every promise of
 * order numbers, and replays the placed orders into a fresh store for the same numbers.
 */
async function checkoutRun(open: OpenStore, s: fc.Scheduler, scenario: Scenario, workerStore?: WorkerStore): Promise<void> {
  await withScheduledStore(open, s, async (inner) => {
    const own = workerStore ? await Promise.all(scenario.workers.map(() => workerStore(inner))) : [];
    try {
      await checkoutRunOn(open, s, scenario, inner, own.map((w) => w.store));
    } finally {
      for (const w of own) await drive(s, w.close());
    }
  });
}

/** {@link checkoutRun} on the opened store; `workerStores[i]`, if given, is worker i's own store over the same log. */
async function checkoutRunOn(open: OpenStore, s: fc.Scheduler, scenario: Scenario, inner: EventStore, workerStores: EventStore[]): Promise<void> {
  const token = runToken();
  const prefixes = [0, 1, 2].map((i) => `P${token}${i}`);
  const defaultPrefix = `D${token}`;
  const name = `order-numbers-${token}`;
  const start = await inner.headPosition();
  const lose = new Set<string>();
  const store = scheduledStore(inner, s, {
    loseResponse: (stream, events) => events[0]?.type === 'OrderPlaced' && lose.delete(stream),
  });

  // Numbering workers, started before any checkout.
  const sharedBase = await checkpointsFromHead(inner, name);
  const sharedWrites: CheckpointWrite[] = [];
  const checkpointsOf = await Promise.all(
    scenario.workers.map(async (w, i): Promise<CheckpointStore> => {
      const schedule = () => s.schedule(Promise.resolve(), `checkpoint ${i}`);
      if (i === 0 || w.shared) return recordingCheckpoints(sharedBase, sharedWrites, { by: String(i), before: schedule });
      return recordingCheckpoints(await checkpointsFromHead(inner, name), [], { before: schedule });
    }),
  );
  const storeOf = scenario.workers.map((_, i) => (workerStores[i] ? scheduledStore(workerStores[i], s) : store));
  const makeRunner = (i: number) =>
    createProjectionRunner({
      store: storeOf[i]!,
      checkpoints: checkpointsOf[i]!,
      checkpointEvery: scenario.workers[i]!.checkpointEvery,
      projection: orderNumbersProjection({ store: storeOf[i]!, name, prefix: defaultPrefix, timeZone: scenario.timeZone }),
    });
  const runners = scenario.workers.map((_, i) => makeRunner(i));

  const placeOne = async (i: number, c: Checkout) => {
    const at = new Date(BASE + c.day * DAY_MS + c.minute * 60_000);
    const orders = createOrderService({ store, clock: () => at });
    const input = orderInput(`co-${token}-${i}`, c.prefix === undefined ? {} : { prefix: prefixes[c.prefix]! });
    if (c.lostResponse) lose.add(orderStream(orderIdFor(input.idempotencyKey)));
    const place = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await orders.placeOrder(input);
        } catch (error) {
          if (!(error instanceof LostResponseError) || attempt >= 3) throw error;
        }
      }
    };
    const results = await Promise.all(Array.from({ length: c.placements }, place));
    expect(new Set(results.map((r) => r.orderId)).size).toBe(1);
    return { orderId: results[0]!.orderId, at, prefix: input.prefix ?? defaultPrefix };
  };

  const work = (async () => {
    await Promise.all(runners.map((r) => r.start()));
    const restartAt = scenario.restart.worker % runners.length;
    const restart = s.schedule(Promise.resolve(), 'restart a worker').then(async () => {
      await runners[restartAt]!.stop();
      if (scenario.restart.fresh) runners[restartAt] = makeRunner(restartAt);
      await runners[restartAt]!.start();
    });
    const placed = await Promise.all(scenario.checkouts.map((c, i) => placeOne(i, c)));
    await restart;
    const head = await inner.headPosition();
    await Promise.all(runners.map((r) => r.waitFor(head, { timeoutMs: 40_000 })));
    for (const r of runners) await r.stop();
    return placed;
  })();
  const placed = await drive(s, work);

  // Every order has exactly one number, of its prefix and its day in the time zone.
  const ours = new Set(placed.map((p) => p.orderId));
  const placedEvents = (await readLog(inner, { eventTypes: ['OrderPlaced'], streamPrefixes: ['order-'] }, start)).filter((e) =>
    ours.has((e.data as OrderPlaced).orderId),
  );
  expect(placedEvents).toHaveLength(placed.length);
  const positionOf = new Map(placedEvents.map((e) => [(e.data as OrderPlaced).orderId, e.globalPosition]));
  const numbers = new Map<string, string>();
  for (const p of placed) {
    const assigned = await numbersOf(inner, p.orderId);
    expect(assigned, `order ${p.orderId}`).toHaveLength(1);
    const parts = parseOrderNumber(assigned[0]!);
    expect(parts).toMatchObject({ prefix: p.prefix, day: orderDay(p.at, scenario.timeZone) });
    numbers.set(p.orderId, assigned[0]!);
  }
  expect(new Set(numbers.values()).size).toBe(placed.length);

  // Per day and prefix: 1..n, in log order, and the numbering stream holds exactly these.
  const groups = new Map<string, { prefix: string; day: string; orderIds: string[] }>();
  for (const p of placed) {
    const day = orderDay(p.at, scenario.timeZone);
    const key = `${p.prefix}/${day}`;
    if (!groups.has(key)) groups.set(key, { prefix: p.prefix, day, orderIds: [] });
    groups.get(key)!.orderIds.push(p.orderId);
  }
  for (const { prefix, day, orderIds } of groups.values()) {
    orderIds.sort((a, b) => (positionOf.get(a)! < positionOf.get(b)! ? -1 : 1));
    expect(orderIds.map((id) => numbers.get(id))).toEqual(orderIds.map((_, k) => formatOrderNumber(prefix, day, k + 1)));
    const slot = await inner.readStream(numberingStream(prefix, day));
    expect(slot.events.map((e) => e.data)).toEqual(orderIds.map((orderId, k) => ({ orderId, number: formatOrderNumber(prefix, day, k + 1) })));
  }
  const numberingStreams = [...prefixes, defaultPrefix].map((p) => `order-numbers-${p}-`);
  const allAssigned = await readLog(inner, { eventTypes: [NUMBER_ASSIGNED], streamPrefixes: numberingStreams }, start);
  expect(allAssigned).toHaveLength(placed.length);
  expect(checkpointChainIssues(sharedWrites, start)).toEqual([]);

  // A full replay: the same OrderPlaced events, in the same order, into a fresh store.
  await replaySameNumbers(open, placedEvents, numbers, { token, defaultPrefix, timeZone: scenario.timeZone });
}

/** Copies `placedEvents` in order into a fresh store (renamed, so any store will do), numbers them with one worker, compares. */
async function replaySameNumbers(
  open: OpenStore,
  placedEvents: readonly RecordedEvent[],
  numbers: ReadonlyMap<string, string>,
  run: { token: string; defaultPrefix: string; timeZone: string },
): Promise<void> {
  await withStore(open, async (replay) => {
    const rename = (prefix: string) => `R${prefix.slice(1)}`;
    const name = `order-numbers-replay-${run.token}`;
    const checkpoints = await checkpointsFromHead(replay, name);
    const copyOf = new Map<string, string>();
    for (const event of placedEvents) {
      const data = event.data as OrderPlaced;
      const orderId = orderIdFor(`replay-${data.idempotencyKey}`);
      copyOf.set(data.orderId, orderId);
      const copy: OrderPlaced = {
        ...data,
        orderId,
        idempotencyKey: `replay-${data.idempotencyKey}`,
        ...(data.prefix !== undefined && { prefix: rename(data.prefix) }),
      };
      await replay.appendToStream(orderStream(orderId), [{ id: eventIdFor(orderStream(orderId), 'replay', 0), type: 'OrderPlaced', data: copy }], {
        expectedVersion: 'no_stream',
      });
    }
    const runner = createProjectionRunner({
      store: replay,
      checkpoints,
      checkpointEvery: 50,
      projection: orderNumbersProjection({ store: replay, name, prefix: rename(run.defaultPrefix), timeZone: run.timeZone }),
    });
    await runner.start();
    await runner.waitUntilCaughtUp({ timeoutMs: 40_000 });
    await runner.stop();
    for (const [orderId, number] of numbers) {
      expect(await numbersOf(replay, copyOf.get(orderId)!)).toEqual([rename(number)]);
    }
  });
}

/**
 * The order-numbers property: for N concurrent checkouts spread over days and prefixes, with
 * duplicate placements and retries, and 1-3 numbering workers (one restarted mid-run), every order
 * gets exactly one number; numbers are unique, gapless per day and prefix, follow log order, and
 * a replay gives the same numbers.
 */
export function orderNumbersProperty(
  open: OpenStore,
  sizes: {
    runs?: number;
    maxOrders?: number;
    largeRuns?: number;
    largeOrders?: number;
    /** Fewest numbering workers in a run (default 1; at most 3). */
    minWorkers?: number;
    /** Gives each worker its own store instance over the run's log (default: all share the run's store). */
    workerStore?: WorkerStore;
  } = {},
): void {
  const { runs = 30, maxOrders = 40, largeRuns = 2, largeOrders = 500, minWorkers = 1, workerStore } = sizes;
  const workers = `${minWorkers}-3 workers${workerStore ? ' (each its own store instance)' : ''}`;
  describe('order numbers under concurrency (property)', () => {
    it(`1-${maxOrders} concurrent checkouts, ${workers}, one restarted: one unique gapless number per order, same on replay`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), scenarioArb(fc.array(checkoutArb, { minLength: 1, maxLength: maxOrders }), minWorkers), (s, scenario) =>
          checkoutRun(open, s, scenario, workerStore),
        ),
        { numRuns: runs },
      );
    });

    it(`${largeOrders} concurrent checkouts, ${workers}, one restarted: one unique gapless number per order, same on replay`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.scheduler(),
          scenarioArb(fc.array(checkoutArb, { minLength: largeOrders, maxLength: largeOrders }), minWorkers),
          (s, scenario) => checkoutRun(open, s, scenario, workerStore),
        ),
        // Shrinking 500 checkouts takes long; the small property above shrinks the same scenarios.
        { numRuns: largeRuns, endOnFailure: true },
      );
    });
  });
}
