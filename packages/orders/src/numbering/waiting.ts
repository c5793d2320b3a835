import { OrdoError } from '@ordo/core';

// What a wait for an order's number takes and how it fails: shared by the watcher of a numbering
// process and the one-off wait.

/** `waitForNumber` ran out of time: the numbering projection is behind or not running. */
export class OrderNumberTimeoutError extends OrdoError {
  static override readonly code = 'order_number_timeout';
  override name = 'OrderNumberTimeoutError';
  constructor(
    readonly orderId: string,
    readonly timeoutMs: number,
  ) {
    super(`Order ${orderId} got no number within ${timeoutMs} ms; is the order-numbers projection running?`);
  }
}

/** How long `waitForNumber` waits: a timeout, and a signal that ends the wait sooner. */
export interface WaitForNumberOptions {
  /** Milliseconds before it gives up with an `OrderNumberTimeoutError`. Default 5000. */
  timeoutMs?: number;
  /** Ends the wait at once, rejecting with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Where the order was placed: the `position` that `placeOrder` returned. With it, a process that
   * runs `createOrderNumbers` answers from its watcher alone, without reading the order stream
   * (under a burst of checkouts, a read per checkout spared). Without it, the wait also reads the
   * order stream once, for a number assigned before the process started watching.
   */
  placedAt?: bigint | null;
}

