import { v4 as uuidv4, v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import {
  type CommandResult,
  createCommandHandler,
  type EventStore,
  parseOrThrow,
  type RecordedEvent,
  type RetryPolicy,
} from '@ordo/core';
import { orderCommandSchema, placeOrderInputSchema, type OrderCommand, type PlaceOrderInput } from './commands.js';
import { createOrderDecider } from './decide.js';
import { withExpectedVersion, type VersionedOrder } from './expected-version.js';
import type { Order } from './fold.js';
import { OrderNotFoundError } from './errors.js';
import type { OrderEvent } from './events.js';
import { toHistoryEntry, type HistoryEntry } from './history.js';
import { defaultLifecycle, type Lifecycle } from './lifecycle.js';
import { numberInputSchema, orderIdSchema, parseField, parseOptions, paymentInputSchema, type OptionsKind } from './service-input.js';
import { orderIdFor, orderStream } from './stream.js';
import type { Money } from './values.js';

/** Who is asking and how to recognise a retry. */
export interface CommandOptions {
  /** Who asks: a user id, `system`, a bot. Default `system`. */
  actor?: string;
  /**
   * Send the same id when retrying a request whose answer was lost: the retry is absorbed and
   * returns the first result. Default: a fresh id, so every call counts as a new request.
   */
  commandId?: string;
  correlationId?: string;
  causationId?: string;
  /**
   * Act only if the order's stream is at this version (an HTTP `If-Match`); otherwise throw
   * `WrongExpectedVersionError` with the current version as `actual`, at once and without retrying.
   * Checked on the state the command is decided on, so it holds however writers race.
   */
  expectedVersion?: bigint;
}

/** What a command did to an order. */
export interface OrderChange {
  order: Order;
  /** True when the command wrote events. */
  applied: boolean;
  /** True when the order already satisfied the command: nothing written, no error. */
  noop: boolean;
  /** True when this command id had already been applied (a retried request). */
  duplicate: boolean;
  events: OrderEvent[];
  /** Global position of the command's last event; pass it to a projection's `waitFor`. */
  position: bigint | null;
  /** The order stream's version after the command (what an `ETag` carries). */
  version: bigint | null;
}

/** What the order service runs on. */
export interface OrderServiceOptions {
  store: EventStore;
  /** Default: {@link defaultLifecycle}. */
  lifecycle?: Lifecycle<string>;
  /** Default: the system clock. */
  clock?: () => Date;
  retry?: Partial<RetryPolicy>;
}

/**
 * The order API a service calls. Every method validates its input and throws `ValidationError`
 * naming the field, or the unknown key, before anything is written.
 */
export interface OrderService {
  /**
   * Places an order, idempotently: the order id derives from `idempotencyKey`, so placing again
   * with the same key returns the existing order (`applied: false`). The same key with different
   * contents throws `IdempotencyConflictError`.
   */
  placeOrder(input: PlaceOrderInput, options?: CommandOptions): Promise<OrderChange & { orderId: string }>;
  /**
   * Moves an order to `to`. Asking for the current status is a no-op; a move the lifecycle forbids
   * throws `InvalidTransitionError`.
   */
  changeStatus(orderId: string, to: string, options?: CommandOptions & { reason?: string }): Promise<OrderChange>;
  cancel(orderId: string, options: CommandOptions & { reason: string }): Promise<OrderChange>;
  recordPayment(orderId: string, payment: { paymentId: string; amount: Money }, options?: CommandOptions): Promise<OrderChange>;
  /** Fulfillment: the order enters `submitting` (attempt n+1). */
  startSubmission(orderId: string, options?: CommandOptions & { reason?: string }): Promise<OrderChange>;
  /** Fulfillment: the provider accepted the order under `providerRequestId`; the order is `submitted`. */
  recordProviderRequest(orderId: string, providerRequestId: string, options?: CommandOptions): Promise<OrderChange>;
  markProcessing(orderId: string, options?: CommandOptions): Promise<OrderChange>;
  completeFulfillment(orderId: string, options?: CommandOptions & { reason?: string }): Promise<OrderChange>;
  /**
   * Fulfillment: the order is `failed` with `reason`. With `attempt`, only that submission is failed,
   * and only while it is still `submitting` (otherwise a no-op): what a timeout needs.
   */
  failFulfillment(orderId: string, options: CommandOptions & { reason: string; attempt?: number }): Promise<OrderChange>;
  /**
   * Fulfillment: submission `attempt` failed for `reason`, and the order is submitted again
   * (attempt + 1, with `retryReason`). Both changes are one append; a no-op unless that submission
   * is still `submitting`.
   */
  retrySubmission(
    orderId: string,
    options: CommandOptions & { attempt: number; reason: string; retryReason?: string },
  ): Promise<OrderChange>;
  /** Records the order's number (the order-numbers projection calls it; numbers never change). */
  assignNumber(orderId: string, assignment: { number: string; prefix: string; day: string }, options?: CommandOptions): Promise<OrderChange>;
  /** @throws OrderNotFoundError */
  getOrder(orderId: string): Promise<Order>;
  /** The audit trail: every event of the order with who, why, when and correlation. @throws OrderNotFoundError */
  history(orderId: string): Promise<HistoryEntry[]>;
  /** The order id that `idempotencyKey` places. */
  orderIdFor(idempotencyKey: string): string;
}

/** A command's own fields, before the service adds the order id, the actor and the time. */
type Body = Record<string, unknown> & { type: OrderCommand['type'] };

/**
 * Creates the order service over any {@link EventStore}: validate, then one command through the
 * handler. Every method is async, so bad input is a rejected promise, never a synchronous throw.
 */
export function createOrderService(options: OrderServiceOptions): OrderService {
  const lifecycle = options.lifecycle ?? defaultLifecycle;
  const clock = options.clock ?? (() => new Date());
  const statusSchema = z.enum(lifecycle.statuses as [string, ...string[]]);
  const decider = withExpectedVersion(createOrderDecider(lifecycle));
  const handler = createCommandHandler({ store: options.store, decider, ...(options.retry && { retry: options.retry }) });

  async function run(orderId: string, body: Body, kind: OptionsKind, opts: unknown): Promise<OrderChange> {
    parseField('orderId', orderIdSchema, orderId, 'order id');
    const { context, fields } = parseOptions(kind, opts);
    const now = clock();
    const actor = context.actor ?? 'system';
    const command = parseOrThrow(orderCommandSchema, { ...body, ...fields, orderId, actor, at: now.toISOString() }, `${body.type} command`);
    const expected = context.expectedVersion === undefined ? {} : { expectedVersion: context.expectedVersion };
    const result = await handler.handle(orderStream(orderId), { ...command, ...expected }, {
      commandId: context.commandId ?? uuidv4(),
      actor,
      occurredAt: now,
      ...(context.correlationId !== undefined && { correlationId: context.correlationId }),
      ...(context.causationId !== undefined && { causationId: context.causationId }),
    });
    return toChange(orderId, result);
  }

  async function load(orderId: string) {
    parseField('orderId', orderIdSchema, orderId, 'order id');
    const loaded = await handler.load(orderStream(orderId));
    if (loaded.state.order === null) throw new OrderNotFoundError(orderId);
    return { order: loaded.state.order, events: loaded.events };
  }

  return {
    orderIdFor,
    async placeOrder(input, opts = {}) {
      const valid = parseOrThrow(placeOrderInputSchema, input, 'PlaceOrder input');
      const orderId = orderIdFor(valid.idempotencyKey);
      // The command id derives from the key and the contents: five deliveries of one payment callback
      // are one command, while the key reused for other contents is another command, which the
      // decider refuses with IdempotencyConflictError (also when both race). Fixed length, whatever the key.
      const contents = JSON.stringify([valid.customer, valid.lines, valid.currency, valid.prefix ?? null]);
      const commandId = `place:${uuidv5(contents, orderId)}`;
      const change = await run(orderId, { type: 'PlaceOrder', ...valid }, 'plain', { commandId, ...opts });
      return { ...change, orderId };
    },
    changeStatus: async (orderId, to, opts) =>
      run(orderId, { type: 'ChangeStatus', to: parseField('to', statusSchema, to, 'status change') }, 'withReason', opts),
    cancel: async (orderId, opts) => run(orderId, { type: 'CancelOrder' }, 'withReason', opts),
    recordPayment: async (orderId, payment, opts) =>
      run(orderId, { type: 'RecordPayment', ...parseOrThrow(paymentInputSchema, payment, 'RecordPayment command') }, 'plain', opts),
    startSubmission: async (orderId, opts) => run(orderId, { type: 'StartSubmission' }, 'withReason', opts),
    recordProviderRequest: async (orderId, providerRequestId, opts) =>
      run(orderId, { type: 'RecordProviderRequest', providerRequestId }, 'plain', opts),
    markProcessing: async (orderId, opts) => run(orderId, { type: 'MarkProcessing' }, 'plain', opts),
    completeFulfillment: async (orderId, opts) => run(orderId, { type: 'CompleteFulfillment' }, 'withReason', opts),
    failFulfillment: async (orderId, opts) => run(orderId, { type: 'FailFulfillment' }, 'fail', opts),
    retrySubmission: async (orderId, opts) => run(orderId, { type: 'RetrySubmission' }, 'retry', opts),
    assignNumber: async (orderId, assignment, opts) =>
      run(orderId, { type: 'AssignOrderNumber', ...parseOrThrow(numberInputSchema, assignment, 'AssignOrderNumber command') }, 'plain', opts),
    getOrder: async (orderId) => (await load(orderId)).order,
    history: async (orderId) =>
      (await load(orderId)).events.map((event) => toHistoryEntry(event as RecordedEvent<OrderEvent['type'], OrderEvent['data']>)),
  };
}

function toChange(orderId: string, result: CommandResult<OrderEvent, VersionedOrder>): OrderChange {
  if (result.state.order === null) throw new OrderNotFoundError(orderId);
  return {
    order: result.state.order,
    applied: !result.noop && !result.duplicate,
    noop: result.noop,
    duplicate: result.duplicate,
    events: result.events,
    position: result.position,
    version: result.version,
  };
}
