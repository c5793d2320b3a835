import type { CommandHandler } from '@ordo/core';
import { isInvalidTransitionError } from '../order/lifecycle.js';
import type { OrderChange, OrderService } from '../order/order-service.js';
import { type FulfillmentEvent, type FulfillmentFactCommand, type FulfillmentFacts, fulfillmentStream } from './fulfillment-events.js';

/** What the provider later reports about a request (from a webhook or a poll). */
export type ProviderUpdate =
  | { state: 'processing' }
  | { state: 'completed' }
  | { state: 'failed'; reason: string };

/**
 * The webhook side: applies a provider update through the order service. An update that changes
 * nothing, because the order already has that status (a repeat) or the lifecycle does not allow it
 * (late, after an outcome), is recorded as `FulfillmentUpdateIgnored` with the status found and
 * why, and the caller gets no error: every kind is treated the same way.
 */
export function createProviderUpdates(options: {
  orders: OrderService;
  facts: CommandHandler<FulfillmentFactCommand, FulfillmentEvent, FulfillmentFacts>;
  clock: () => Date;
}) {
  const { orders, facts, clock } = options;

  async function apply(orderId: string, update: ProviderUpdate, by: { actor: string }): Promise<OrderChange> {
    if (update.state === 'processing') return orders.markProcessing(orderId, by);
    if (update.state === 'completed') return orders.completeFulfillment(orderId, by);
    return orders.failFulfillment(orderId, { ...by, reason: update.reason });
  }

  return async function providerUpdate(
    orderId: string,
    update: ProviderUpdate,
    opts: { actor?: string; deliveryId?: string } = {},
  ): Promise<void> {
    const by = { actor: opts.actor ?? 'fulfillment-provider' };
    let why: string;
    let status: string;
    try {
      const change = await apply(orderId, update, by);
      if (!change.noop) return;
      why = `the order is already ${change.order.status}`;
      status = change.order.status;
    } catch (error) {
      if (!isInvalidTransitionError(error)) throw error;
      why = `${error.from} does not lead to ${error.to}`;
      status = error.from;
    }
    const at = clock().toISOString();
    // The same delivery retried is recorded once: its id, or the update and the order's state, name it.
    const commandId = `ignored:${opts.deliveryId ?? `${update.state}:${status}:${(await orders.getOrder(orderId)).updatedAt}`}`;
    await facts.handle(
      fulfillmentStream(orderId),
      { type: 'RecordIgnoredUpdate', data: { update: update.state, ...(update.state === 'failed' && { reason: update.reason }), status, why, at } },
      { commandId, actor: by.actor },
    );
  };
}
