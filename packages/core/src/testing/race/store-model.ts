import fc from 'fast-check';
import { v4 as uuidv4 } from 'uuid';
import type { NewEvent, RecordedEvent } from '../../events.js';
import type { EventStore, ExpectedVersion } from '../../store/event-store.js';
import { MemoryEventStore } from '../../store/memory-store.js';

/**
 * Model-based testing of an event store: random sequences of appends (every expected-version mode,
 * retries of earlier appends, reused ids, bad input) and reads run on the store under test and on
 * the in-memory reference store, and every answer must be the same. Positions are compared by
 * order, not by value: stores need not number the log densely.
 */

/** A store under test and the reference, side by side. */
interface Pair {
  real: EventStore;
  reference: MemoryEventStore;
  /** Put before every stream name of the run, so that a shared store's other streams stay apart. */
  prefix: string;
}

/** Earlier appends, so that a later step can retry one or reuse its ids. */
interface Model {
  appends: { stream: string; events: NewEvent[]; expectedVersion: ExpectedVersion }[];
}

/** What a call answered, in a form two stores can agree on. */
type Outcome = { ok: unknown } | { error: string };

async function outcome(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await call() };
  } catch (error) {
    return { error: error instanceof Error ? error.name : String(error) };
  }
}

/** An event as both stores must show it: no positions, no timestamps. */
function shown(event: RecordedEvent) {
  return { id: event.id, stream: event.streamName, version: String(event.streamVersion), type: event.type, data: event.data };
}

function sameOutcome(step: string, real: Outcome, reference: Outcome): void {
  const a = JSON.stringify(real, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  const b = JSON.stringify(reference, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  if (a !== b) throw new Error(`${step}: the store answered\n  ${a}\nbut the reference store answered\n  ${b}`);
}

const STREAMS = ['model-a', 'model-b', 'model-c'];
const versionArb: fc.Arbitrary<ExpectedVersion> = fc.oneof(
  fc.constantFrom<ExpectedVersion>('any', 'no_stream', 'stream_exists'),
  fc.bigInt({ min: -1n, max: 4n }),
);

class AppendStep implements fc.AsyncCommand<Model, Pair> {
  constructor(
    readonly stream: string,
    readonly count: number,
    readonly expectedVersion: ExpectedVersion,
    /** Retry append number `retry` of the model (mod its length) instead of a fresh one. */
    readonly retry: number | null,
  ) {}
  check = () => true;
  async run(model: Model, pair: Pair): Promise<void> {
    const earlier = this.retry === null || model.appends.length === 0 ? undefined : model.appends[this.retry % model.appends.length]!;
    const append = earlier ?? {
      stream: pair.prefix + this.stream,
      expectedVersion: this.expectedVersion,
      events: Array.from({ length: this.count }, (_, i) => ({ id: uuidv4(), type: 'Happened', data: { n: i } })),
    };
    const call = (store: EventStore) => async () => {
      const result = await store.appendToStream(append.stream, append.events, { expectedVersion: append.expectedVersion });
      return { version: result.nextExpectedVersion };
    };
    sameOutcome(this.toString(), await outcome(call(pair.real)), await outcome(call(pair.reference)));
    if (!earlier) model.appends.push(append);
  }
  toString = () => (this.retry === null ? `append ${this.count} to ${this.stream} expecting ${String(this.expectedVersion)}` : `retry append #${this.retry}`);
}

class ReadStreamStep implements fc.AsyncCommand<Model, Pair> {
  constructor(
    readonly stream: string,
    readonly fromVersion: bigint | undefined,
    readonly maxCount: number | undefined,
    readonly direction: 'forwards' | 'backwards',
  ) {}
  check = () => true;
  async run(_model: Model, pair: Pair): Promise<void> {
    const options = { direction: this.direction, ...(this.fromVersion !== undefined && { fromVersion: this.fromVersion }), ...(this.maxCount !== undefined && { maxCount: this.maxCount }) };
    const call = (store: EventStore) => async () => {
      const result = await store.readStream(pair.prefix + this.stream, options);
      return { version: result.version, events: result.events.map(shown) };
    };
    sameOutcome(this.toString(), await outcome(call(pair.real)), await outcome(call(pair.reference)));
  }
  toString = () => `read ${this.stream} ${this.direction} from ${String(this.fromVersion)} max ${String(this.maxCount)}`;
}

class ReadAllStep implements fc.AsyncCommand<Model, Pair> {
  check = () => true;
  async run(_model: Model, pair: Pair): Promise<void> {
    const filter = pair.prefix ? { filter: { streamPrefixes: [pair.prefix] } } : {};
    const call = (store: EventStore) => async () => {
      const events: ReturnType<typeof shown>[] = [];
      for await (const event of store.readAll(filter)) events.push(shown(event));
      return events;
    };
    sameOutcome(this.toString(), await outcome(call(pair.real)), await outcome(call(pair.reference)));
  }
  toString = () => 'read the whole log';
}

/** The steps a model run draws from. */
export function storeModelSteps(): fc.Arbitrary<fc.AsyncCommand<Model, Pair>>[] {
  const stream = fc.constantFrom(...STREAMS);
  return [
    fc.record({ stream, count: fc.integer({ min: 1, max: 3 }), version: versionArb, retry: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(20) }) }).map(
      (s) => new AppendStep(s.stream, s.count, s.version, s.retry),
    ),
    fc.record({
      stream,
      from: fc.option(fc.bigInt({ min: 0n, max: 5n }), { nil: undefined }),
      max: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      direction: fc.constantFrom<'forwards' | 'backwards'>('forwards', 'backwards'),
    }).map((s) => new ReadStreamStep(s.stream, s.from, s.max, s.direction)),
    fc.constant(new ReadAllStep()),
  ];
}

/** What {@link storeModelProperty} needs. */
export interface StoreModelOptions {
  /** A fresh, empty store for each run (a new schema, a new database). */
  store: () => EventStore | Promise<EventStore>;
  /** Called after each run with its store. */
  release?: (store: EventStore) => void | Promise<void>;
  /** Most steps in a run. Default 30. */
  maxSteps?: number;
  /**
   * A fresh prefix for each run's stream names, for a store shared between runs (a server other
   * tests also use); reads of the whole log then keep to the run's own streams. Default: none.
   */
  streamPrefix?: () => string;
}

/**
 * A fast-check property: a random sequence of appends and reads gives the same answers on the
 * store as on the in-memory reference. Run it with `fc.assert(storeModelProperty(...), { numRuns })`.
 */
export function storeModelProperty(options: StoreModelOptions) {
  return fc.asyncProperty(fc.commands(storeModelSteps(), { maxCommands: options.maxSteps ?? 30 }), async (steps) => {
    const real = await options.store();
    try {
      const prefix = options.streamPrefix?.() ?? '';
      await fc.asyncModelRun(() => ({ model: { appends: [] }, real: { real, reference: new MemoryEventStore(), prefix } }), steps);
    } finally {
      await options.release?.(real);
    }
  });
}
