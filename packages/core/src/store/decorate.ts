import type { EventStore } from './event-store.js';

/**
 * Wraps `store` so that the methods in `overrides` replace the store's own and every other property
 * is the store's (methods bound to it). A Proxy rather than a copy: methods a store has beyond the
 * port, or that the port gains later, pass through untouched, and `instanceof` still sees the store.
 */
export function decorateStore<S extends EventStore>(store: S, overrides: Partial<EventStore>): S {
  return new Proxy(store, {
    get(target, property) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return overrides[property as keyof EventStore];
      const value: unknown = Reflect.get(target, property, target);
      // Bound to the store itself, so private fields and `this` inside its methods keep working.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
