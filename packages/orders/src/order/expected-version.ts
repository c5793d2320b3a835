import { WrongExpectedVersionError, type Decider } from '@ordo/core';
import type { OrderCommand } from './commands.js';
import type { OrderEvent } from './events.js';
import type { OrderState } from './fold.js';
import { orderStream } from './stream.js';

/** The order state with its stream version, so that a command can name the version it expects. */
export interface VersionedOrder {
  order: OrderState;
  /** Version of the stream's last event; `null` before the first. */
  version: bigint | null;
}

/** An order command that may name the stream version it was decided against (an HTTP `If-Match`). */
export type VersionedOrderCommand = OrderCommand & { expectedVersion?: bigint };

/**
 * Wraps the order decider so that a command naming an `expectedVersion` is refused with
 * `WrongExpectedVersionError` (the current version as `actual`) unless the stream is at that
 * version. Checked on the state the command is decided on, so it holds however writers race.
 */
export function withExpectedVersion(
  decider: Decider<OrderCommand, OrderEvent, OrderState>,
): Decider<VersionedOrderCommand, OrderEvent, VersionedOrder> {
  return {
    initialState: { order: decider.initialState, version: null },
    evolve: (state, event) => ({ order: decider.evolve(state.order, event), version: state.version === null ? 0n : state.version + 1n }),
    decide({ expectedVersion, ...command }, state) {
      if (expectedVersion !== undefined && expectedVersion !== state.version) {
        throw new WrongExpectedVersionError(orderStream(command.orderId), expectedVersion, state.version);
      }
      return decider.decide(command as OrderCommand, state.order);
    },
  };
}
