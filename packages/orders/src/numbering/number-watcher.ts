import type { EventStore, RecordedEvent, Subscription } from '@ordo/core';
import { orderStream } from '../order/order-decider.js';
import type { OrderNumberAssigned } from '../order/schemas.js';
import { OrderNumberTimeoutError, type WaitForNumberOptions } from './waiting.js';

/** Numbers the watcher keeps after it saw them, for waiters that come a little later. */
const RECENT_NUMBERS = 10_000;

/**
 * One subscription to `OrderNumberAssigned` that answers every waiting checkout of a process, so a
 * thousand waiters cost one reader. A waiter registers, then looks at its order stream once, in case
 * the number was assigned before the watcher could see it. That look is skipped when the waiter says
 * where its order was placed (`placedAt`) and the watcher has seen, or will see, everything after
 * that position: the number was then seen (and is kept among the recent ones) or is still to come.
 * Under a burst of checkouts this spares the store a read per checkout.
 */
export class NumberWatcher {
  private subscription: Subscription | undefined;
  private readonly waiting = new Map<string, Set<(number: string) => void>>();
  private readonly recent = new Map<string, { number: string; position: bigint }>();
  /** The watcher sees every assignment after this position. */
  private watchingAfter: bigint | undefined;
  /** The newest position among the numbers dropped from `recent`. */
  private forgottenUpTo = -1n;

  /** A watcher on `store` (not yet watching). */
  constructor(private readonly store: EventStore) {}

  /** True while it watches. */
  get watching(): boolean {
    return this.subscription !== undefined;
  }

  /** Starts watching from the store's head. */
  async start(): Promise<void> {
    if (this.subscription) return;
    const head = await this.store.headPosition();
    this.watchingAfter = head;
    this.subscription = this.store.subscribeToAll({
      after: head,
      filter: { eventTypes: ['OrderNumberAssigned'], streamPrefixes: [orderStream('')] },
      onEvent: (event) => this.saw(event),
    });
  }

  /** Stops watching; waiters keep waiting until their timeout (or until it starts again). */
  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    this.watchingAfter = undefined;
    this.recent.clear();
    this.forgottenUpTo = -1n;
    await subscription?.stop();
  }

  /**
   * Resolves with the order's number when the watcher sees it, or the order stream shows it.
   * @throws OrderNumberTimeoutError after `timeoutMs`; the signal's reason when it aborts first.
   */
  wait(orderId: string, { timeoutMs = 5000, signal, placedAt }: WaitForNumberOptions = {}): Promise<string> {
    signal?.throwIfAborted();
    const known = this.recent.get(orderId);
    if (known) return Promise.resolve(known.number);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new OrderNumberTimeoutError(orderId, timeoutMs));
      }, timeoutMs);
      const settle = (number: string) => {
        done();
        resolve(number);
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiting.get(orderId)?.delete(settle);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Listen first, then look: a number assigned in between is seen by one or the other.
      this.waiting.set(orderId, (this.waiting.get(orderId) ?? new Set()).add(settle));
      if (this.coversAfter(placedAt)) return;
      this.store.readStream(orderStream(orderId)).then(
        (read) => {
          const assigned = read.events.find((event) => event.type === 'OrderNumberAssigned');
          if (assigned) settle((assigned.data as OrderNumberAssigned).number);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }

  /** True when every assignment after `position` is seen by the watcher and not yet forgotten. */
  private coversAfter(position: bigint | null | undefined): boolean {
    if (position === undefined || position === null || this.watchingAfter === undefined) return false;
    return position >= this.watchingAfter && position >= this.forgottenUpTo;
  }

  private saw(event: RecordedEvent): void {
    const { orderId, number } = event.data as OrderNumberAssigned;
    this.recent.set(orderId, { number, position: event.globalPosition });
    if (this.recent.size > RECENT_NUMBERS) {
      const [oldest, kept] = this.recent.entries().next().value as [string, { position: bigint }];
      this.recent.delete(oldest);
      if (kept.position > this.forgottenUpTo) this.forgottenUpTo = kept.position;
    }
    for (const resolve of this.waiting.get(orderId) ?? []) resolve(number);
    this.waiting.delete(orderId);
  }
}
