import type { RecordedEvent } from '../events.js';
import { backoffDelay, type BackoffPolicy } from '../projections/supervision.js';
import { isTransient } from '../transient.js';
import { START, type LogFilter, type SubscribeOptions, type Subscription } from './event-store.js';

/** What a store gives {@link runSubscription}: a way to read the next page, and a way to wait for more. */
export interface LogSource {
  /**
   * Reads up to `maxCount` matching events after `after`. `position` is where the next read
   * continues: the last event's position, or further when the store skipped non-matching events.
   */
  readPage(after: bigint, filter: LogFilter | undefined, maxCount: number): Promise<{ events: RecordedEvent[]; position: bigint }>;
  /** Resolves when events after `position` may exist (or when `signal` aborts). May resolve early. */
  waitForEvents(position: bigint, signal: AbortSignal): Promise<void>;
}

const PAGE_SIZE = 500;
/** Backoff between reads that failed for a transient reason (a lost connection, a restarting server). */
const READ_BACKOFF: BackoffPolicy = { baseDelayMs: 50, maxDelayMs: 5000 };

/**
 * The catch-up-then-live loop shared by the stores: read pages from the cursor, deliver each event
 * in order, and when a read comes back empty, report being caught up and wait for the store to say
 * there may be more. Each event is delivered once because the cursor only moves past delivered (or
 * skipped) positions, and the store's `readPage` never returns a position a later commit could fill.
 * A read that fails for a transient reason (see `isTransient`) is tried again, with backoff, for as
 * long as it takes; any other failure, or a failing `onEvent`, ends the subscription through
 * `onError`.
 */
export function runSubscription(source: LogSource, options: SubscribeOptions): Subscription {
  const abort = new AbortController();
  let cursor = options.after ?? START;
  type Page = Awaited<ReturnType<LogSource['readPage']>>;
  /** The read of the page after the one being delivered, started before its delivery (pipelining). */
  let next: Promise<Page> | undefined;

  const read = (after: bigint): Promise<Page> => {
    const page = source.readPage(after, options.filter, PAGE_SIZE);
    page.catch(() => undefined); // awaited (or dropped on a stop) later
    return page;
  };

  const deliver = async (events: readonly RecordedEvent[]) => {
    for (const event of events) {
      if (abort.signal.aborted) return;
      // A handler that answers synchronously is not awaited: no microtask turn per event.
      const handled = options.onEvent(event);
      if (handled) await handled;
      cursor = event.globalPosition;
    }
  };

  const loop = async () => {
    let failedReads = 0;
    while (!abort.signal.aborted) {
      let page: Page;
      try {
        page = await (next ?? read(cursor));
        next = undefined;
        failedReads = 0;
      } catch (error) {
        next = undefined;
        if (!isTransient(error) || abort.signal.aborted) throw error;
        options.onReadRetry?.(error);
        await sleep(backoffDelay(++failedReads, READ_BACKOFF), abort.signal);
        continue;
      }
      if (page.events.length > 0) {
        // The next read starts where this page ends, whatever its delivery does: read it meanwhile.
        const last = page.events[page.events.length - 1]!.globalPosition;
        next = read(page.position > last ? page.position : last);
        await deliver(page.events);
      }
      if (abort.signal.aborted) return;
      if (page.position > cursor) cursor = page.position;
      if (page.events.length === 0) {
        options.onCaughtUp?.(cursor);
        await source.waitForEvents(cursor, abort.signal);
      }
    }
  };

  const done = loop().then(
    () => undefined,
    (error: unknown) => {
      abort.abort();
      if (options.onError) options.onError(error);
    },
  );

  return {
    done,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/** A promise that resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
