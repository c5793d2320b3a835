import { v5 as uuidv5 } from 'uuid';
import {
  type CheckpointStore,
  createProjectionRunner,
  eventIdFor,
  isDuplicateEventIdError,
  isPartialRetryError,
  isWrongExpectedVersionError,
  type EventStore,
  MemoryCheckpointStore,
  type Projection,
  type ProjectionLeaseOptions,
  type ProjectionRunner,
  type RecordedEvent,
  sleep,
  type StreamAppendRequest,
  type Subscription,
  isUnsupportedOperationError,
  ValidationError,
} from '@ordo/core';
import { orderStream } from '../order/order-decider.js';
import { createOrderService, type OrderService } from '../order/order-service.js';
import { orderNumberPrefixSchema, type OrderNumberAssigned, type OrderPlaced } from '../order/schemas.js';
import { NumberWatcher } from './number-watcher.js';
import { OrderNumberTimeoutError, type WaitForNumberOptions } from './waiting.js';

export { OrderNumberTimeoutError, type WaitForNumberOptions } from './waiting.js';

/**
 * Order numbers, derived from the log: for each `OrderPlaced`, in log order, the next number of the
 * order's day and prefix, `PREFIX-YYYYMMDD-NNNN`. The numbering stream of a day and prefix holds one
 * `NumberAssigned` per order, each appended with the exact expected version, so the stream's version
 * *is* the sequence: two numbering workers can never hand out one number twice, because the store
 * refuses the second append. Nothing on the write path waits for a number.
 */

/** The event in a numbering stream: `orderId` got `number`. Its version + 1 is the sequence. */
export const NUMBER_ASSIGNED = 'NumberAssigned';

/** The numbering stream of one prefix and day, e.g. `order-numbers-GAM-20261123`. */
export function numberingStream(prefix: string, day: string): string {
  return `order-numbers-${prefix}-${day}`;
}

/** `PREFIX-YYYYMMDD-NNNN`: at least four digits, wider past 9999 rather than failing. */
export function formatOrderNumber(prefix: string, day: string, sequence: number): string {
  return `${prefix}-${day}-${String(sequence).padStart(4, '0')}`;
}

/** Splits an order number into its parts, or returns `undefined` when it is not one. */
export function parseOrderNumber(number: string): { prefix: string; day: string; sequence: number } | undefined {
  const match = /^([A-Z][A-Z0-9]{0,9})-(\d{8})-(\d{4,})$/.exec(number);
  if (!match) return undefined;
  const sequence = Number(match[3]);
  if (!Number.isSafeInteger(sequence) || sequence < 1) return undefined;
  return { prefix: match[1]!, day: match[2]!, sequence };
}

/** The calendar day (`YYYYMMDD`) of an instant in an IANA time zone. */
export function orderDay(at: string | Date, timeZone: string): string {
  const parts = dayFormatter(timeZone).formatToParts(typeof at === 'string' ? new Date(at) : at);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}${get('month')}${get('day')}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function dayFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    } catch {
      throw new ValidationError('order numbers options', [{ path: 'timeZone', message: `"${timeZone}" is not an IANA time zone` }]);
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** What {@link createOrderNumbers} needs: the store, and the default prefix, time zone and checkpoint store. */
export interface OrderNumbersOptions {
  store: EventStore;
  /** Prefix for orders placed without one. Default `ORD`. */
  prefix?: string;
  /** IANA time zone whose calendar day numbers restart on. Default `UTC`. */
  timeZone?: string;
  /** Where the projection's checkpoint lives. Default: in memory. */
  checkpoints?: CheckpointStore;
  /** Used to record `OrderNumberAssigned` on the order; default: an order service over `store`. */
  orders?: OrderService;
  /** Projection name (its checkpoint key). Default `order-numbers`. */
  name?: string;
  /**
   * One numbering copy across service instances: the runner's lease (see `ProjectionRunnerOptions`
   * of `@ordo/core`). Default `{}` (a 10 s lease) when the checkpoint store keeps leases
   * (PostgreSQL, memory); `false` lets every instance number, fenced by the checkpoint alone.
   */
  lease?: ProjectionLeaseOptions | false;
  /**
   * Whether `start()` runs the numbering here. Default `true`. `false`: this instance only answers
   * `waitForNumber` (from one shared subscription), and the numbering runs elsewhere, e.g. in a
   * worker thread or process of its own, where a burst of requests on this event loop cannot hold
   * it up.
   */
  numbering?: boolean;
}

/** The order-numbers projection with its runner and lookups. */
export interface OrderNumbers {
  readonly projection: Projection;
  readonly runner: ProjectionRunner;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The order that has `number`, or `undefined`. One stream read. */
  findOrderByNumber(number: string): Promise<string | undefined>;
  /**
   * Resolves with the order's number once the projection has assigned it (typically milliseconds
   * after placement). Works from any process that shares the store.
   * @throws OrderNumberTimeoutError after `timeoutMs` (default 5000).
   * @throws the signal's reason when `signal` aborts first.
   */
  waitForNumber(orderId: string, options?: WaitForNumberOptions): Promise<string>;
}

const NUMBER_EVENT_NAMESPACE = 'b7e0b8a2-9d4f-4a57-8f3e-2c6d1e5a9b04';

/** Orders numbered by one atomic append at most (with their numbering stream: within the default 100 streams). */
const ORDERS_PER_APPEND = 64;

interface NumberingSlot {
  version: bigint | null;
  byOrder: Map<string, string>;
}

/**
 * The projection alone: hand it to any runner. It numbers a batch of placed orders with one append
 * per numbering stream, and keeps a small cache of the numbering streams it has read, refreshed
 * incrementally. Where the store appends to several streams atomically (memory, PostgreSQL,
 * KurrentDB 25.1+), that append also records each order's number on the order, so a batch costs
 * one short read and one append per day and prefix; elsewhere the orders get their numbers in a
 * second step, one append per order.
 */
export function orderNumbersProjection(options: OrderNumbersOptions): Projection {
  const { store } = options;
  const defaultPrefix = options.prefix ?? 'ORD';
  const timeZone = options.timeZone ?? 'UTC';
  const prefixCheck = orderNumberPrefixSchema.safeParse(defaultPrefix);
  if (!prefixCheck.success) {
    throw new ValidationError('order numbers options', [{ path: 'prefix', message: prefixCheck.error.issues[0]!.message }]);
  }
  dayFormatter(timeZone); // refuse a bad time zone now, not on the first order
  const orders = options.orders ?? createOrderService({ store });
  const slots = new Map<string, NumberingSlot>();
  // Until the store says it cannot, claims and the orders' numbers go in one atomic append.
  let atomic = true;

  async function refresh(stream: string): Promise<NumberingSlot> {
    let slot = slots.get(stream);
    if (!slot) {
      if (slots.size >= 64) slots.delete(slots.keys().next().value!); // old days are done
      slot = { version: null, byOrder: new Map() };
      slots.set(stream, slot);
    }
    const read = await store.readStream(stream, { fromVersion: slot.version === null ? 0n : slot.version + 1n });
    for (const event of read.events) {
      const data = event.data as { orderId: string; number: string };
      slot.byOrder.set(data.orderId, data.number);
      slot.version = event.streamVersion;
    }
    return slot;
  }

  /**
   * Numbers for `placed` (in log order) in `stream`: the ones they already have, and for the rest the
   * next ones, claimed together by one exact-version append. If another worker moved the stream
   * first, read what it wrote and try again with what is still missing.
   */
  async function reserve(stream: string, prefix: string, day: string, placed: readonly RecordedEvent[], recorded: Set<string>) {
    for (;;) {
      const slot = await refresh(stream);
      const unclaimed = placed.filter((event) => !slot.byOrder.has((event.data as OrderPlaced).orderId));
      if (unclaimed.length === 0) return slot.byOrder;
      const missing = unclaimed.slice(0, ORDERS_PER_APPEND);
      const first = slot.version === null ? 1 : Number(slot.version) + 2;
      const claims = missing.map((event, i) => {
        const { orderId } = event.data as OrderPlaced;
        return {
          id: uuidv5(`${stream}\n${orderId}`, NUMBER_EVENT_NAMESPACE),
          type: NUMBER_ASSIGNED,
          data: { orderId, number: formatOrderNumber(prefix, day, first + i) },
          metadata: { causationId: event.id, actor: 'order-numbers' },
        };
      });
      try {
        slot.version = await claim(stream, slot.version ?? 'no_stream', claims, missing, { prefix, day }, recorded);
        for (const claim of claims) slot.byOrder.set(claim.data.orderId, claim.data.number);
        if (missing.length === unclaimed.length) return slot.byOrder;
      } catch (error) {
        // Another worker moved the stream first: the next read shows what it wrote.
        const raced = isWrongExpectedVersionError(error) || isDuplicateEventIdError(error) || isPartialRetryError(error);
        if (!raced) throw error;
      }
    }
  }

  /**
   * Appends the claims, and where the store can, each order's `OrderNumberAssigned` with them in one
   * atomic append: no crash can leave a number claimed but not on its order (`recorded` gets those
   * orders). On a store that appends to one stream at a time, the claims alone; the orders get
   * their numbers next, through the order service. Returns the numbering stream's new version.
   */
  async function claim(
    stream: string,
    expectedVersion: bigint | 'no_stream',
    claims: { id: string; type: string; data: { orderId: string; number: string } }[],
    placed: readonly RecordedEvent[],
    where: { prefix: string; day: string },
    recorded: Set<string>,
  ): Promise<bigint> {
    if (atomic) {
      try {
        const numbering: StreamAppendRequest = { stream, events: claims, expectedVersion };
        const result = await store.appendToStreams([numbering, ...placed.map((event, i) => numberOnOrder(event, claims[i]!.data.number, where))]);
        for (const event of placed) recorded.add((event.data as OrderPlaced).orderId);
        return result.streams[0]!.nextExpectedVersion;
      } catch (error) {
        if (!isUnsupportedOperationError(error)) throw error;
        atomic = false;
      }
    }
    return (await store.appendToStream(stream, claims, { expectedVersion })).nextExpectedVersion;
  }

  async function numberBatch(events: readonly RecordedEvent[]) {
    const byStream = new Map<string, { prefix: string; day: string; placed: RecordedEvent[] }>();
    for (const event of events) {
      const placed = event.data as OrderPlaced;
      const prefix = placed.prefix ?? defaultPrefix;
      const day = orderDay(placed.placedAt, timeZone);
      const stream = numberingStream(prefix, day);
      const group = byStream.get(stream) ?? { prefix, day, placed: [] };
      group.placed.push(event);
      byStream.set(stream, group);
    }
    const assignments: { event: RecordedEvent; number: string; prefix: string; day: string }[] = [];
    const recorded = new Set<string>();
    for (const [stream, { prefix, day, placed }] of byStream) {
      const numbers = await reserve(stream, prefix, day, placed, recorded);
      for (const event of placed) {
        if (recorded.has((event.data as OrderPlaced).orderId)) continue;
        assignments.push({ event, number: numbers.get((event.data as OrderPlaced).orderId)!, prefix, day });
      }
    }
    // Each order's own stream: independent writes, so several at a time.
    await inParallel(assignments, 16, ({ event, number, prefix, day }) => {
      const { orderId } = event.data as OrderPlaced;
      // A deterministic command id: after a crash or in a second worker this is absorbed, never doubled.
      return orders.assignNumber(orderId, { number, prefix, day }, {
        actor: 'order-numbers',
        commandId: `order-number:${orderId}`,
        causationId: event.id,
        ...(typeof event.metadata.correlationId === 'string' && { correlationId: event.metadata.correlationId }),
      });
    });
  }

  return {
    name: options.name ?? 'order-numbers',
    eventTypes: ['OrderPlaced'],
    streamPrefixes: ['order-'],
    handleBatch: numberBatch,
    handle: (event) => numberBatch([event]),
    // Its effects are appends with derived ids, not writes through a checkpoint transaction: holding
    // one open around them would tie up a pool connection while the appends wait for another.
    transactional: false,
  };
}

/**
 * The order's `OrderNumberAssigned`, as the order service's `assignNumber` command (command id
 * `order-number:<orderId>`) would write it: the same event id and metadata, so either path
 * recognises the other's write.
 */
function numberOnOrder(placed: RecordedEvent, number: string, { prefix, day }: { prefix: string; day: string }): StreamAppendRequest {
  const { orderId } = placed.data as OrderPlaced;
  const stream = orderStream(orderId);
  const commandId = `order-number:${orderId}`;
  const correlationId = placed.metadata.correlationId;
  return {
    stream,
    expectedVersion: 'stream_exists',
    events: [
      {
        id: eventIdFor(stream, commandId, 0),
        type: 'OrderNumberAssigned',
        data: { orderId, number, prefix, day },
        metadata: {
          commandId,
          actor: 'order-numbers',
          causationId: placed.id,
          ...(typeof correlationId === 'string' && { correlationId }),
          occurredAt: new Date().toISOString(),
        },
      },
    ],
  };
}

/** Runs `work` over `items`, at most `limit` at a time; fails with the first error. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

/** Finds the order that has `number`: one read of one event. */
export async function findOrderByNumber(store: EventStore, number: string): Promise<string | undefined> {
  const parts = parseOrderNumber(number);
  if (!parts) return undefined;
  const read = await store.readStream(numberingStream(parts.prefix, parts.day), {
    fromVersion: BigInt(parts.sequence - 1),
    maxCount: 1,
  });
  const data = read.events[0]?.data as { orderId: string; number: string } | undefined;
  return data?.number === number ? data.orderId : undefined;
}

/**
 * Waits until the order stream shows its number, woken by the store when the number is appended
 * (on PostgreSQL a NOTIFY from whichever process numbered the order; within one process at once),
 * never by polling the stream. A process that runs {@link createOrderNumbers} answers its waiters
 * from one shared subscription instead.
 * @throws OrderNumberTimeoutError after `timeoutMs`; the signal's reason when `signal` aborts first.
 */
export function waitForNumber(store: EventStore, orderId: string, { timeoutMs = 5000, signal }: WaitForNumberOptions = {}): Promise<string> {
  const stream = orderStream(orderId);
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    let subscription: Subscription | undefined;
    const finish = (outcome: { number: string } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void subscription?.stop();
      if ('number' in outcome) resolve(outcome.number);
      else reject(outcome.error);
    };
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => finish({ error: new OrderNumberTimeoutError(orderId, timeoutMs) }), timeoutMs);
    signal?.addEventListener('abort', () => finish({ error: signal.reason }), { once: true });
    const numberIn = (events: readonly RecordedEvent[]) =>
      (events.find((e) => e.type === 'OrderNumberAssigned' && e.streamName === stream)?.data as OrderNumberAssigned | undefined)?.number;
    // Listen first (from the head), then look: a number assigned in between is seen by one or the other.
    store
      .headPosition()
      .then(async (head) => {
        if (settled) return;
        subscription = store.subscribeToAll({
          after: head,
          filter: { eventTypes: ['OrderNumberAssigned'], streamPrefixes: [stream] },
          onEvent(event) {
            const number = numberIn([event]);
            if (number !== undefined) finish({ number });
          },
          onError: (error) => finish({ error }),
        });
        const number = numberIn((await store.readStream(stream)).events);
        if (number !== undefined) finish({ number });
      })
      .catch((error: unknown) => finish({ error }));
  });
}

/** The runner's lease: as given, or by default one whenever the checkpoint store keeps leases. */
function leaseOption(lease: ProjectionLeaseOptions | false | undefined, checkpoints: CheckpointStore): { lease?: ProjectionLeaseOptions } {
  if (lease === false) return {};
  if (lease !== undefined) return { lease };
  const keepsLeases = typeof checkpoints.acquireLease === 'function' && typeof checkpoints.releaseLease === 'function';
  return keepsLeases ? { lease: {} } : {};
}

/**
 * The order-numbers projection, a runner for it, and lookups, in one object. Run one in every
 * service instance: by default the runner holds a lease in the checkpoint store (when it keeps
 * leases), so one instance numbers orders and the others stand by to take over (see `lease`).
 */
export function createOrderNumbers(options: OrderNumbersOptions): OrderNumbers {
  const { store } = options;
  const projection = orderNumbersProjection(options);
  const checkpoints = options.checkpoints ?? new MemoryCheckpointStore();
  const runner = createProjectionRunner({
    store,
    checkpoints,
    projection,
    ...leaseOption(options.lease, checkpoints),
  });

  // While started, one subscription to `OrderNumberAssigned` answers every `waitForNumber`, so a
  // thousand waiting checkouts cost one reader instead of a thousand pollers.
  const watcher = new NumberWatcher(store);

  return {
    projection,
    runner,
    async start() {
      await watcher.start();
      if (options.numbering !== false) await runner.start();
    },
    async stop() {
      await runner.stop();
      await watcher.stop();
    },
    findOrderByNumber: (number) => findOrderByNumber(store, number),
    waitForNumber(orderId, waitOptions = {}) {
      return watcher.watching ? watcher.wait(orderId, waitOptions) : waitForNumber(store, orderId, waitOptions);
    },
  };
}
