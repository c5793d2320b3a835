import { isOrdoError, OrdoError } from '@ordo/core';

/** The table that defines a lifecycle. `S` is the union of its status names. */
export interface LifecycleDefinition<S extends string> {
  /** Every status, in the order diagrams list them. */
  statuses: readonly S[];
  /** The status of a newly placed order. */
  initial: NoInfer<S>;
  /** For each status, the statuses it may move to. A status left out has no way out. */
  transitions: { readonly [From in NoInfer<S>]?: readonly NoInfer<S>[] };
  /**
   * Statuses where the order's work is over. From a terminal status the only moves allowed are to
   * other terminal statuses (a delivered order can still be refunded).
   */
  terminal: readonly NoInfer<S>[];
}

/** A checked lifecycle: ask it what is allowed, or draw it. */
export interface Lifecycle<S extends string = string> {
  readonly statuses: readonly S[];
  readonly initial: S;
  readonly terminal: readonly S[];
  /** Statuses reachable from `from` in one step. */
  allowed(from: S): readonly S[];
  can(from: S, to: S): boolean;
  isStatus(value: string): value is S;
  isTerminal(status: S): boolean;
  /** @throws InvalidTransitionError when the table does not allow `from → to`. */
  assertTransition(from: S, to: S): void;
  /** A Mermaid `stateDiagram-v2` of the table. */
  toMermaid(): string;
}

/** A status change the lifecycle does not allow. */
export class InvalidTransitionError extends OrdoError {
  static override readonly code = 'invalid_transition';
  override name = 'InvalidTransitionError';
  constructor(
    readonly from: string,
    readonly to: string,
    readonly allowed: readonly string[],
  ) {
    super(
      `Cannot move an order from "${from}" to "${to}"; from "${from}" it may move to ` +
        (allowed.length > 0 ? allowed.map((s) => `"${s}"`).join(', ') : 'nothing (it is final)'),
    );
  }
}

/** Whether `error` is an {@link InvalidTransitionError}, from any copy of the package. */
export function isInvalidTransitionError(error: unknown): error is InvalidTransitionError {
  return isOrdoError(error, InvalidTransitionError.code);
}

/** The lifecycle table is inconsistent (thrown by {@link defineLifecycle}). */
export class LifecycleDefinitionError extends OrdoError {
  static override readonly code = 'lifecycle_definition';
  override name = 'LifecycleDefinitionError';
}

/**
 * Defines a lifecycle from a table. The compiler checks that transitions name only declared
 * statuses; this function checks the rest at run time (no duplicate statuses, the initial status
 * exists, terminal statuses only lead to terminal statuses, every status is reachable).
 *
 * @example
 * const lifecycle = defineLifecycle({
 *   statuses: ['pending', 'paid', 'shipped'],
 *   initial: 'pending',
 *   transitions: { pending: ['paid'], paid: ['shipped'] },
 *   terminal: ['shipped'],
 * });
 */
export function defineLifecycle<const S extends string>(definition: LifecycleDefinition<S>): Lifecycle<S> {
  const statuses = [...definition.statuses];
  const known = new Set<string>(statuses);
  const problems: string[] = [];
  if (known.size !== statuses.length) problems.push('a status is listed twice');
  if (!known.has(definition.initial)) problems.push(`initial status "${definition.initial}" is not declared`);
  const table = new Map<S, readonly S[]>();
  for (const [from, targets] of Object.entries(definition.transitions) as [S, readonly S[] | undefined][]) {
    if (!known.has(from)) problems.push(`transitions name the undeclared status "${from}"`);
    for (const to of targets ?? []) {
      if (!known.has(to)) problems.push(`"${from}" leads to the undeclared status "${to}"`);
      if (to === from) problems.push(`"${from}" leads to itself; asking for the current status is already a no-op`);
    }
    table.set(from, [...new Set(targets ?? [])]);
  }
  const terminal = new Set<S>(definition.terminal);
  for (const status of terminal) {
    if (!known.has(status)) problems.push(`terminal status "${status}" is not declared`);
    for (const to of table.get(status) ?? []) {
      if (!terminal.has(to)) problems.push(`terminal status "${status}" leads to the non-terminal "${to}"`);
    }
  }
  const reached = new Set<S>([definition.initial]);
  const queue: S[] = [definition.initial];
  while (queue.length > 0) {
    for (const to of table.get(queue.shift()!) ?? []) {
      if (!reached.has(to)) queue.push(to), reached.add(to);
    }
  }
  for (const status of statuses) {
    if (!reached.has(status)) problems.push(`"${status}" cannot be reached from "${definition.initial}"`);
  }
  if (problems.length > 0) throw new LifecycleDefinitionError(`Invalid lifecycle: ${problems.join('; ')}`);

  const allowed = (from: S): readonly S[] => table.get(from) ?? [];
  return {
    statuses,
    initial: definition.initial,
    terminal: [...terminal],
    allowed,
    can: (from, to) => allowed(from).includes(to),
    isStatus: (value): value is S => known.has(value),
    isTerminal: (status) => terminal.has(status),
    assertTransition(from, to) {
      if (!allowed(from).includes(to)) throw new InvalidTransitionError(from, to, allowed(from));
    },
    toMermaid() {
      const lines = ['stateDiagram-v2', `    [*] --> ${definition.initial}`];
      for (const from of statuses) for (const to of allowed(from)) lines.push(`    ${from} --> ${to}`);
      for (const status of statuses) if (terminal.has(status)) lines.push(`    ${status} --> [*]`);
      return lines.join('\n');
    },
  };
}

/** The statuses of {@link defaultLifecycle}. */
export type OrderStatus =
  | 'pending'
  | 'confirmed'
  | 'preparing'
  | 'ready'
  | 'out_for_delivery'
  | 'delivered'
  | 'submitting'
  | 'submitted'
  | 'processing'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'refunded';

/**
 * The default order lifecycle: delivery (`pending → confirmed → preparing → ready →
 * out_for_delivery → delivered`), fulfillment through an external provider (`pending → submitting →
 * submitted → processing → completed`, with `failed` and a retry back to `submitting`),
 * cancellation from any status before dispatch, and a refund of a paid order once it is over.
 */
export const defaultLifecycle: Lifecycle<OrderStatus> = defineLifecycle<OrderStatus>({
  statuses: [
    'pending',
    'confirmed',
    'preparing',
    'ready',
    'out_for_delivery',
    'delivered',
    'submitting',
    'submitted',
    'processing',
    'completed',
    'failed',
    'cancelled',
    'refunded',
  ],
  initial: 'pending',
  transitions: {
    pending: ['confirmed', 'submitting', 'cancelled'],
    confirmed: ['preparing', 'submitting', 'cancelled'],
    preparing: ['ready', 'cancelled'],
    ready: ['out_for_delivery', 'cancelled'],
    out_for_delivery: ['delivered'],
    delivered: ['refunded'],
    submitting: ['submitted', 'completed', 'failed'],
    submitted: ['processing', 'completed', 'failed'],
    processing: ['completed', 'failed'],
    failed: ['submitting', 'completed', 'cancelled'],
    completed: ['refunded'],
    cancelled: ['refunded'],
  },
  terminal: ['delivered', 'completed', 'cancelled', 'refunded'],
});
