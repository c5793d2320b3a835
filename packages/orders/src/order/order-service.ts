import { v4 as uuidv4, v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import {
  type CommandResult,
  createCommandHandler,
  type Decider,
  type EventStore,
  parseOrThrow,
  type RecordedEvent,
  type RetryPolicy,
  toIssues,
  ValidationError,
  WrongExpectedVersionError,
} from '@ordo/core';
import { defaultLifecycle, type Lifecycle } from './lifecycle.js';
import { createOrderDecider, OrderNotFoundError, orderStream, type Order, type OrderState } from './order-decider.js';
import {
  orderCommandSchema,
  placeOrderInputSchema,
  type Money,
  type OrderCommand,
  type OrderEvent,
  type PlaceOrderInput,
} from './schemas.js';

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

/** One line of an order's audit trail. */
export interface HistoryEntry {
  version: bigint;
  position: bigint;
  type: OrderEvent['type'];
  data: OrderEvent['data'];
  actor?: string;
  reason?: string;
  at: string;
  recordedAt: Date;
  commandId?: string;
  correlationId?: string;
  causationId?: string;
}

export interface OrderServiceOptions {
  store: EventStore;
  /** Default: {@link defaultLifecycle}. */
  lifecycle?: Lifecycle<string>;
  /** Default: the system clock. */
  clock?: () => Date;
  retry?: Partial<RetryPolicy>;
}

/** The order API a service calls. Every method validates its input and throws `ValidationError` naming the field. */
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

const ORDER_ID_NAMESPACE = '8c3c1f4e-2a55-4d1e-b0a4-6f2f9e7d5a10';

/** The order id an idempotency key maps to (uuid v5): the same key always names the same order. */
export function orderIdFor(idempotencyKey: string): string {
  return uuidv5(idempotencyKey, ORDER_ID_NAMESPACE);
}

const orderIdSchema = z.uuid('must be an order id (UUID)');
const optionsSchema = z.object({
  actor: z.string().min(1).max(200).optional(),
  commandId: z.string().min(1).max(200).optional(),
  correlationId: z.string().min(1).max(200).optional(),
  causationId: z.string().min(1).max(200).optional(),
  reason: z.string().min(1).max(2000).optional(),
  expectedVersion: z.bigint().nonnegative().optional(),
});

/** Creates the order service over any {@link EventStore}. */
export function createOrderService(options: OrderServiceOptions): OrderService {
  const lifecycle = options.lifecycle ?? defaultLifecycle;
  const clock = options.clock ?? (() => new Date());
  const decider = withExpectedVersion(createOrderDecider(lifecycle));
  const statusSchema = z.enum(lifecycle.statuses as [string, ...string[]]);
  const handler = createCommandHandler({ store: options.store, decider, ...(options.retry && { retry: options.retry }) });

  type Body = Record<string, unknown> & { type: OrderCommand['type'] };

  async function run(orderId: string, body: Body, opts: CommandOptions & { reason?: string } = {}): Promise<OrderChange> {
    parseField('orderId', orderIdSchema, orderId, 'order id');
    const o = parseOrThrow(optionsSchema, opts, 'command options');
    const now = clock();
    const command = parseOrThrow(
      orderCommandSchema,
      { ...body, orderId, actor: o.actor ?? 'system', at: now.toISOString(), ...(o.reason !== undefined && { reason: o.reason }) },
      `${body.type} command`,
    );
    const expected = o.expectedVersion === undefined ? {} : { expectedVersion: o.expectedVersion };
    const result = await handler.handle(orderStream(orderId), { ...command, ...expected }, {
      commandId: o.commandId ?? uuidv4(),
      actor: command.actor,
      occurredAt: now,
      ...(o.correlationId !== undefined && { correlationId: o.correlationId }),
      ...(o.causationId !== undefined && { causationId: o.causationId }),
    });
    return toChange(orderId, result);
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
      const change = await run(orderId, { type: 'PlaceOrder', ...valid }, { commandId, ...opts });
      return { ...change, orderId };
    },
    async changeStatus(orderId, to, opts) {
      return run(orderId, { type: 'ChangeStatus', to: parseField('to', statusSchema, to, 'status change') }, opts);
    },
    cancel: (orderId, opts) => run(orderId, { type: 'CancelOrder' }, opts),
    recordPayment: (orderId, payment, opts) =>
      run(orderId, { type: 'RecordPayment', paymentId: payment?.paymentId, amount: payment?.amount }, opts),
    startSubmission: (orderId, opts) => run(orderId, { type: 'StartSubmission' }, opts),
    recordProviderRequest: (orderId, providerRequestId, opts) =>
      run(orderId, { type: 'RecordProviderRequest', providerRequestId }, opts),
    markProcessing: (orderId, opts) => run(orderId, { type: 'MarkProcessing' }, opts),
    completeFulfillment: (orderId, opts) => run(orderId, { type: 'CompleteFulfillment' }, opts),
    failFulfillment: (orderId, opts) =>
      run(orderId, { type: 'FailFulfillment', ...(opts?.attempt !== undefined && { attempt: opts.attempt }) }, opts),
    retrySubmission: (orderId, { attempt, retryReason, ...opts }) =>
      run(orderId, { type: 'RetrySubmission', attempt, ...(retryReason !== undefined && { retryReason }) }, opts),
    assignNumber: (orderId, assignment, opts) => run(orderId, { type: 'AssignOrderNumber', ...assignment }, opts),
    async getOrder(orderId) {
      return (await load(orderId)).order;
    },
    async history(orderId) {
      const { events } = await load(orderId);
      return events.map((event) => toHistoryEntry(event as RecordedEvent<OrderEvent['type'], OrderEvent['data']>));
    },
  };
}

/** The order state with its stream version, so that a command can name the version it expects. */
interface VersionedOrder {
  order: OrderState;
  version: bigint | null;
}

/** Wraps the order decider to refuse a command whose `expectedVersion` is not the stream's version. */
function withExpectedVersion(
  decider: Decider<OrderCommand, OrderEvent, OrderState>,
): Decider<OrderCommand & { expectedVersion?: bigint }, OrderEvent, VersionedOrder> {
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

/** Parses one argument, naming it in the issues (`orderId`, `to`) as a command's field would be. */
function parseField<T extends z.ZodType>(field: string, schema: T, value: unknown, subject: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = toIssues(result.error).map((issue) => ({ ...issue, path: issue.path ? `${field}.${issue.path}` : field }));
  throw new ValidationError(subject, issues);
}

function toHistoryEntry(event: RecordedEvent<OrderEvent['type'], OrderEvent['data']>): HistoryEntry {
  const data = event.data as Partial<{ by: string; placedBy: string; reason: string; at: string; placedAt: string }>;
  const meta = event.metadata;
  const entry: HistoryEntry = {
    version: event.streamVersion,
    position: event.globalPosition,
    type: event.type,
    data: event.data,
    at: data.at ?? data.placedAt ?? meta.occurredAt ?? event.recordedAt.toISOString(),
    recordedAt: event.recordedAt,
  };
  const actor = data.by ?? data.placedBy ?? meta.actor;
  if (actor !== undefined) entry.actor = actor;
  if (data.reason !== undefined) entry.reason = data.reason;
  if (meta.commandId !== undefined) entry.commandId = meta.commandId;
  if (meta.correlationId !== undefined) entry.correlationId = meta.correlationId;
  if (meta.causationId !== undefined) entry.causationId = meta.causationId;
  return entry;
}
