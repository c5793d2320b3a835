import type { NewEvent, RecordedEvent } from '../events.js';
import type { EventStore } from '../store/event-store.js';
import { decorateStore } from '../store/decorate.js';
import { prepareForWrite, SCHEMA_VERSION_KEY, upcastEvent, type EventSchemas } from './event-schemas.js';

/** Options of {@link withEventSchemas}. */
export interface WithEventSchemasOptions {
  /**
   * Write these event types at an older version (downcast), e.g. `{ OrderPlaced: 1 }` during a
   * rolling deploy while instances that know only version 1 still read. Default: the current version.
   */
  writeVersions?: Readonly<Record<string, number>>;
}

/**
 * Wraps a store so that every read path (`readStream`, `readAll`, `subscribeToAll`, and so the
 * command handler's fold, projections and histories) gets events of registered types upcast to the
 * current version and validated, and every append is validated and stamped with
 * `metadata.schemaVersion`. Methods the wrapper does not know pass straight through to `store`, so
 * a method added to the port later keeps working.
 * @throws EventSchemaError from reads (an event that cannot be brought to the current shape) and
 *   from appends (data that fails its schema; nothing is written).
 */
export function withEventSchemas<S extends EventStore>(store: S, schemas: EventSchemas, options: WithEventSchemasOptions = {}): S {
  const upcast = <E extends RecordedEvent>(event: E): E => {
    if (!schemas[event.type]) return event;
    const data = upcastEvent(schemas, event, { stream: event.streamName, streamVersion: event.streamVersion });
    return { ...event, data };
  };
  const stamp = (stream: string, event: NewEvent): NewEvent => {
    const def = schemas[event.type];
    if (!def) return event;
    const target = options.writeVersions?.[event.type] ?? def.version;
    const metadata = { ...event.metadata, [SCHEMA_VERSION_KEY]: target };
    return { ...event, metadata, data: prepareForWrite(def, { ...event, metadata }, target, stream) };
  };
  return decorateStore(store, {
    // async, so a refused event is a rejected promise like every store's own refusals.
    appendToStream: async (stream, events, opts) => store.appendToStream(stream, events.map((e) => stamp(stream, e)), opts),
    async readStream(stream, opts) {
      const read = await store.readStream(stream, opts);
      return { ...read, events: read.events.map(upcast) };
    },
    async *readAll(opts) {
      for await (const event of store.readAll(opts)) yield upcast(event);
    },
    subscribeToAll: (opts) => store.subscribeToAll({ ...opts, onEvent: (event) => opts.onEvent(upcast(event)) }),
  });
}
