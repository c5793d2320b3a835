import { describe, expect, it } from 'vitest';
import {
  createOrderDecider,
  defaultLifecycle,
  defineLifecycle,
  InvalidTransitionError,
  LifecycleDefinitionError,
  type OrderStatus,
} from '@ordo/orders';
import { specification } from '@ordo/core/testing';
import { changeStatus, historyTo, LATER, ORDER_ID, pathTo } from './fixtures.js';

const statuses = defaultLifecycle.statuses;
const pairs = statuses.flatMap((from) => statuses.map((to) => ({ from, to })));
const allowedPairs = pairs.filter(({ from, to }) => from !== to && defaultLifecycle.can(from, to));
const forbiddenPairs = pairs.filter(({ from, to }) => from !== to && !defaultLifecycle.can(from, to));
const spec = specification(createOrderDecider(defaultLifecycle));

describe('defaultLifecycle', () => {
  it('covers delivery, fulfillment, cancellation and refunds as designed', () => {
    const delivery: OrderStatus[] = ['pending', 'confirmed', 'preparing', 'ready', 'out_for_delivery', 'delivered'];
    const fulfillment: OrderStatus[] = ['pending', 'submitting', 'submitted', 'processing', 'completed'];
    for (const path of [delivery, fulfillment]) {
      for (let i = 1; i < path.length; i++) expect(defaultLifecycle.can(path[i - 1]!, path[i]!)).toBe(true);
    }
    expect(defaultLifecycle.initial).toBe('pending');
    for (const status of ['pending', 'confirmed', 'preparing', 'ready'] as const) {
      expect(defaultLifecycle.can(status, 'cancelled')).toBe(true);
    }
    expect(defaultLifecycle.can('out_for_delivery', 'cancelled')).toBe(false);
    expect(defaultLifecycle.allowed('refunded')).toEqual([]);
  });

  it('lets terminal statuses lead only to terminal statuses, and every status is reachable', () => {
    for (const status of defaultLifecycle.terminal) {
      for (const to of defaultLifecycle.allowed(status)) expect(defaultLifecycle.isTerminal(to)).toBe(true);
    }
    for (const status of statuses) expect(pathTo(status).at(-1)).toBe(status);
  });

  it.each(allowedPairs)('$from → $to emits exactly its OrderStatusChanged', ({ from, to }) => {
    expect(defaultLifecycle.can(from, to)).toBe(true);
    spec
      .given(historyTo(from))
      .when(changeStatus(to, { actor: 'ops:bea', reason: 'as asked' }))
      .then([
        {
          type: 'OrderStatusChanged',
          data: { orderId: ORDER_ID, from, to, reason: 'as asked', by: 'ops:bea', at: LATER },
        },
      ]);
  });

  it.each(forbiddenPairs)('$from → $to throws InvalidTransitionError naming from, to and allowed', ({ from, to }) => {
    spec
      .given(historyTo(from))
      .when(changeStatus(to))
      .thenThrows(InvalidTransitionError, (error) => {
        expect(error.from).toBe(from);
        expect(error.to).toBe(to);
        expect(error.allowed).toEqual(defaultLifecycle.allowed(from));
        expect(error.message).toContain(`"${from}"`);
        expect(error.message).toContain(`"${to}"`);
      });
    expect(() => defaultLifecycle.assertTransition(from, to)).toThrow(InvalidTransitionError);
  });

  it.each(statuses.map((status) => ({ status })))('asking for $status while already $status is a no-op', ({ status }) => {
    spec.given(historyTo(status)).when(changeStatus(status)).thenNothing();
  });

  it('toMermaid() draws every transition, the start and the terminal statuses, and nothing else', () => {
    const mermaid = defaultLifecycle.toMermaid();
    const lines = mermaid.split('\n').map((line) => line.trim());
    expect(lines[0]).toBe('stateDiagram-v2');
    expect(lines).toContain('[*] --> pending');
    for (const { from, to } of allowedPairs) expect(lines).toContain(`${from} --> ${to}`);
    for (const status of defaultLifecycle.terminal) expect(lines).toContain(`${status} --> [*]`);
    expect(lines).toHaveLength(2 + allowedPairs.length + defaultLifecycle.terminal.length);
  });
});

describe('defineLifecycle', () => {
  const valid = {
    statuses: ['new', 'paid', 'shipped', 'void'],
    initial: 'new',
    transitions: { new: ['paid', 'void'], paid: ['shipped', 'void'] },
    terminal: ['shipped', 'void'],
  } as const;

  it('builds a lifecycle that answers what is allowed', () => {
    const lifecycle = defineLifecycle(valid);
    expect(lifecycle.statuses).toEqual(['new', 'paid', 'shipped', 'void']);
    expect(lifecycle.allowed('new')).toEqual(['paid', 'void']);
    expect(lifecycle.allowed('shipped')).toEqual([]);
    expect(lifecycle.can('paid', 'shipped')).toBe(true);
    expect(lifecycle.can('new', 'shipped')).toBe(false);
    expect(lifecycle.isStatus('paid')).toBe(true);
    expect(lifecycle.isStatus('refunded')).toBe(false);
    expect(lifecycle.isTerminal('void')).toBe(true);
    expect(lifecycle.isTerminal('paid')).toBe(false);
    expect(() => lifecycle.assertTransition('new', 'paid')).not.toThrow();
    expect(() => lifecycle.assertTransition('shipped', 'paid')).toThrow(InvalidTransitionError);
  });

  it('drives the order decider with a custom table', () => {
    const custom = defineLifecycle({
      statuses: ['pending', 'paid', 'shipped'],
      initial: 'pending',
      transitions: { pending: ['paid'], paid: ['shipped'] },
      terminal: ['shipped'],
    });
    const customSpec = specification(createOrderDecider(custom));
    customSpec.given(historyTo('pending')).when(changeStatus('paid')).then([
      { type: 'OrderStatusChanged', data: { orderId: ORDER_ID, from: 'pending', to: 'paid', by: 'admin', at: LATER } },
    ]);
    customSpec
      .given(historyTo('pending'))
      .when(changeStatus('confirmed'))
      .thenThrows(InvalidTransitionError, (error) => expect(error.allowed).toEqual(['paid']));
  });

  it('refuses undeclared status names at compile time and at run time', () => {
    const attempts: [string, () => unknown][] = [
      [
        '"paid" leads to the undeclared status "lost"',
        () =>
          defineLifecycle({
            statuses: ['new', 'paid'],
            initial: 'new',
            // @ts-expect-error "lost" is not a declared status
            transitions: { new: ['paid'], paid: ['lost'] },
            terminal: ['paid'],
          }),
      ],
      [
        'initial status "draft" is not declared',
        () =>
          defineLifecycle({
            statuses: ['new', 'paid'],
            // @ts-expect-error "draft" is not a declared status
            initial: 'draft',
            transitions: { new: ['paid'] },
            terminal: ['paid'],
          }),
      ],
      [
        'terminal status "archived" is not declared',
        () =>
          defineLifecycle({
            statuses: ['new', 'paid'],
            initial: 'new',
            transitions: { new: ['paid'] },
            // @ts-expect-error "archived" is not a declared status
            terminal: ['paid', 'archived'],
          }),
      ],
      [
        'transitions name the undeclared status "ghost"',
        () =>
          defineLifecycle({
            statuses: ['new', 'paid'],
            initial: 'new',
            // @ts-expect-error "ghost" is not a declared status
            transitions: { new: ['paid'], ghost: ['new'] },
            terminal: ['paid'],
          }),
      ],
    ];
    for (const [problem, attempt] of attempts) {
      expect(attempt).toThrow(LifecycleDefinitionError);
      expect(attempt).toThrow(problem);
    }
  });

  it('refuses unreachable statuses', () => {
    expect(() =>
      defineLifecycle({
        statuses: ['new', 'paid', 'orphan'],
        initial: 'new',
        transitions: { new: ['paid'], orphan: ['paid'] },
        terminal: ['paid'],
      }),
    ).toThrow('"orphan" cannot be reached from "new"');
  });

  it('refuses a terminal status that leads to a non-terminal one', () => {
    expect(() =>
      defineLifecycle({
        statuses: ['new', 'done', 'reopened'],
        initial: 'new',
        transitions: { new: ['done'], done: ['reopened'] },
        terminal: ['done'],
      }),
    ).toThrow('terminal status "done" leads to the non-terminal "reopened"');
  });

  it('refuses duplicate statuses and a status leading to itself', () => {
    expect(() =>
      defineLifecycle({ statuses: ['new', 'new', 'done'], initial: 'new', transitions: { new: ['done'] }, terminal: ['done'] }),
    ).toThrow('a status is listed twice');
    expect(() =>
      defineLifecycle({ statuses: ['new', 'done'], initial: 'new', transitions: { new: ['new', 'done'] }, terminal: ['done'] }),
    ).toThrow('"new" leads to itself');
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      defineLifecycle({
        statuses: ['a', 'b', 'c'],
        initial: 'a',
        transitions: { a: ['b'], b: ['a'] },
        terminal: ['b'],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LifecycleDefinitionError);
    expect((error as Error).message).toContain('terminal status "b" leads to the non-terminal "a"');
    expect((error as Error).message).toContain('"c" cannot be reached from "a"');
  });
});
