import type { NewEvent } from '../../events.js';
import type { AppendOptions, EventStore, ReadStreamOptions } from '../../store/event-store.js';
import { brief, type Timeline } from './timeline.js';

/** Lets a scheduler decide when each store call may go ahead (fast-check's `fc.scheduler`). */
export interface CallGate {
  /** Resolves when the scheduler lets the call labelled `label` proceed. */
  pass(label: string): Promise<void>;
}

/**
 * One app server's view of a shared store: every read and append first waits for the scheduler,
 * then runs on the shared store, and both the call and its outcome go into the timeline. Each
 * server gets its own view, so handlers share nothing but the store, as separate processes would.
 */
export function recordingStore(store: EventStore, who: string, gate: CallGate, timeline: Timeline): EventStore {
  const readStream = async (stream: string, options?: ReadStreamOptions) => {
    await gate.pass(`${who} read ${stream}`);
    const result = await store.readStream(stream, options);
    const from = options?.fromVersion !== undefined ? ` from v${options.fromVersion}` : '';
    timeline.record(who, `read ${stream}${from} → version ${result.version ?? 'none'} (${result.events.length} events)`);
    return result;
  };
  const appendToStream = async (stream: string, events: readonly NewEvent[], options: AppendOptions) => {
    await gate.pass(`${who} append ${stream}`);
    const types = events.map((e) => e.type).join(', ');
    try {
      const result = await store.appendToStream(stream, events, options);
      timeline.record(who, `append ${stream} expecting ${String(options.expectedVersion)} [${types}] → ok, version ${result.nextExpectedVersion}`);
      return result;
    } catch (error) {
      timeline.record(who, `append ${stream} expecting ${String(options.expectedVersion)} [${types}] → ${describeError(error)}`);
      throw error;
    }
  };
  // A proxy, so that whatever else the store offers still works, bound to the store itself.
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'readStream') return readStream;
      if (property === 'appendToStream') return appendToStream;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A short description of an error for the timeline: its name and the detail a reader needs. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `threw ${brief(error)}`;
  const actual = (error as { actual?: unknown }).actual;
  return actual !== undefined ? `${error.name} (actual ${String(actual)})` : `${error.name}: ${error.message}`;
}
