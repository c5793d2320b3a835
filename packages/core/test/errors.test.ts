import { describe, expect, it } from 'vitest';
import {
  CheckpointConflictError,
  DuplicateEventIdError,
  MemoryEventStore,
  OrdoError,
  ProjectionFailedError,
  ProjectionTimeoutError,
  StreamNotFoundError,
  ValidationError,
  WrongExpectedVersionError,
  createCommandHandler,
  isCheckpointConflictError,
  isDuplicateEventIdError,
  isOrdoError,
  isProjectionFailedError,
  isProjectionTimeoutError,
  isStreamNotFoundError,
  isValidationError,
  isWrongExpectedVersionError,
  type Decider,
  type EventStore,
} from '../src/index.js';

// A second, separately evaluated copy of the errors module: what an application gets when it loads
// the ESM build of @ordo/core and a CommonJS adapter loads the CommonJS build.
const secondCopy = '../src/errors.ts?second-copy';
const other = (await import(/* @vite-ignore */ secondCopy)) as typeof import('../src/errors.js');

const examples = () => [
  { error: new WrongExpectedVersionError('s', 1n, 2n), code: 'wrong_expected_version', guard: isWrongExpectedVersionError },
  { error: new StreamNotFoundError('s'), code: 'stream_not_found', guard: isStreamNotFoundError },
  { error: new DuplicateEventIdError('s', 'e'), code: 'duplicate_event_id', guard: isDuplicateEventIdError },
  { error: new ValidationError('input', [{ path: 'a', message: 'bad' }]), code: 'validation', guard: isValidationError },
  { error: new ProjectionFailedError('p', { stream: 's', version: 0n, position: 0n, type: 'T' }, 1, new Error('x')), code: 'projection_failed', guard: isProjectionFailedError },
  { error: new ProjectionTimeoutError('p', 1n, 10), code: 'projection_timeout', guard: isProjectionTimeoutError },
  { error: new CheckpointConflictError('p', 1n, 2n), code: 'checkpoint_conflict', guard: isCheckpointConflictError },
];

describe('Ordo errors', () => {
  it('each carries its own stable code, and only its own guard accepts it', () => {
    const all = examples();
    for (const { error, code, guard } of all) {
      expect(error.code).toBe(code);
      expect(isOrdoError(error)).toBe(true);
      expect(isOrdoError(error, code)).toBe(true);
      for (const otherExample of all) expect(otherExample.guard(error)).toBe(otherExample.guard === guard);
    }
    expect(new Set(all.map((e) => e.code)).size).toBe(all.length);
  });

  it('refuses what is not an Ordo error', () => {
    for (const value of [new Error('x'), { code: 'validation' }, null, undefined, 'validation', 42]) {
      expect(isOrdoError(value)).toBe(false);
      expect(isValidationError(value)).toBe(false);
      expect(value instanceof OrdoError).toBe(false);
    }
  });

  it('keeps the brand out of enumeration and serialisation, and the code in', () => {
    const error = new WrongExpectedVersionError('s', 'no_stream', 3n);
    expect(Object.keys(error)).not.toContain(Symbol.for('ordo.error').toString());
    expect(Object.getOwnPropertySymbols(error).every((s) => !Object.getOwnPropertyDescriptor(error, s)!.enumerable)).toBe(true);
    expect(Object.keys(error)).toContain('code');
  });

  it('recognises errors thrown by another copy of the package, by guard and by instanceof', () => {
    const foreign = new other.WrongExpectedVersionError('s', 1n, 2n);
    expect(foreign).not.toBeInstanceOf(other.StreamNotFoundError);
    expect(Object.getPrototypeOf(foreign)).not.toBe(WrongExpectedVersionError.prototype);
    expect(isWrongExpectedVersionError(foreign)).toBe(true);
    expect(foreign instanceof WrongExpectedVersionError).toBe(true);
    expect(foreign instanceof OrdoError).toBe(true);
    expect(foreign instanceof StreamNotFoundError).toBe(false);
    expect(foreign instanceof ValidationError).toBe(false);
    expect(new WrongExpectedVersionError('s', 1n, 2n) instanceof other.WrongExpectedVersionError).toBe(true);
  });

  it('narrows types with instanceof and with the guards', () => {
    const caught: unknown = new other.WrongExpectedVersionError('orders-1', 1n, 2n);
    // These lines compile only if both checks narrow `unknown` to the error class.
    const viaInstanceof = caught instanceof WrongExpectedVersionError ? caught.stream : undefined;
    const viaGuard = isWrongExpectedVersionError(caught) ? caught.actual : undefined;
    expect([viaInstanceof, viaGuard]).toEqual(['orders-1', 2n]);
  });

  it('recognises a subclass from another copy as an instance of its parent class', () => {
    class OrderGone extends other.StreamNotFoundError {
      static override readonly code = 'order_gone';
      override name = 'OrderGone';
    }
    const gone = new OrderGone('order-1');
    expect(gone.code).toBe('order_gone');
    expect(isStreamNotFoundError(gone)).toBe(true);
    expect(gone instanceof StreamNotFoundError).toBe(true);
    expect(isOrdoError(gone, 'order_gone')).toBe(true);
    expect(new StreamNotFoundError('s') instanceof OrderGone).toBe(false);
  });

  it('leaves a subclass without a code of its own to the prototype chain', () => {
    class ServiceError extends OrdoError {}
    expect(new ServiceError('x').code).toBe('ordo_error');
    expect(new ServiceError('x') instanceof ServiceError).toBe(true);
    expect(new OrdoError('x') instanceof ServiceError).toBe(false);
    expect(new other.OrdoError('x') instanceof ServiceError).toBe(false);
  });
});

type Counted = { type: 'Counted'; data: { by: string } };
const counter: Decider<{ by: string }, Counted, number> = {
  initialState: 0,
  decide: (command) => [{ type: 'Counted', data: { by: command.by } }],
  evolve: (state) => state + 1,
};

/** A memory store whose conflicts come out as another copy's error class. */
function storeThrowingForeignConflicts(): EventStore {
  const store = new MemoryEventStore();
  const appendToStream: EventStore['appendToStream'] = async (stream, events, options) => {
    try {
      return await store.appendToStream(stream, events, options);
    } catch (error) {
      if (!isWrongExpectedVersionError(error)) throw error;
      throw new other.WrongExpectedVersionError(error.stream, error.expected, error.actual);
    }
  };
  return Object.assign(Object.create(store) as EventStore, { appendToStream });
}

describe('the command handler with another copy of the errors', () => {
  it('retries conflicts: ten handlers racing on one stream all succeed', async () => {
    const store = storeThrowingForeignConflicts();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        createCommandHandler({ store, decider: counter }).handle('counter-1', { by: `h${i}` }, { commandId: `c${i}` }),
      ),
    );
    const failures = results.filter((r) => r.status === 'rejected');
    expect(failures).toEqual([]);
    const attempts = results.map((r) => (r.status === 'fulfilled' ? r.value.attempts : 0));
    // The race is real: at least one handler had to re-read and try again.
    expect(Math.max(...attempts)).toBeGreaterThan(1);
    expect((await createCommandHandler({ store, decider: counter }).load('counter-1')).state).toBe(10);
  });
});
