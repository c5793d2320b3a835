import type { z } from 'zod';
import { isOrdoError, OrdoError, type ValidationIssue } from '../errors.js';
import type { EventMetadata } from '../events.js';
import { toIssues } from '../validation.js';

/**
 * Event schema evolution: every registered event type has a current version and a zod schema; older
 * stored versions are turned into the current shape by upcasters, one step at a time, and the result
 * is validated. The version lives in `metadata.schemaVersion`; an event without one is version 1.
 */

/** Turns an event's data from one version into the next (`upcast[n]`: n → n+1) or the previous (`downcast[n]`: n → n-1). */
export type SchemaStep = (data: unknown, event: { type: string; metadata: EventMetadata }) => unknown;

/** How one event type evolves. */
export interface EventSchemaDefinition<Schema extends z.ZodType = z.ZodType> {
  /** The version this code writes and reads, 1 or more. */
  version: number;
  /** The shape of the current version; every read is validated by it. */
  schema: Schema;
  /** `upcast[n]` turns version n into n+1; one for each version from 1 to `version - 1` that may be stored. */
  upcast?: Readonly<Record<number, SchemaStep>>;
  /**
   * `downcast[n]` turns version n into n-1. Needed only to write an older version on purpose (see
   * `writeVersions` of `withEventSchemas`): while readers that know only that version still run.
   */
  downcast?: Readonly<Record<number, SchemaStep>>;
}

/** The registry: each event type's definition, checked once by {@link defineEventSchemas}. */
export type EventSchemas = Readonly<Record<string, EventSchemaDefinition>>;

/** The metadata key that holds an event's schema version. */
export const SCHEMA_VERSION_KEY = 'schemaVersion';

/**
 * A stored event could not be brought to the current shape: its version has no upcaster, is newer
 * than this code knows, or the upcast data fails the schema. Names the stream, version and fields.
 */
export class EventSchemaError extends OrdoError {
  static override readonly code = 'event_schema';
  override name = 'EventSchemaError';
  constructor(
    readonly stream: string,
    /** The event's place in its stream, when it was read from one. */
    readonly streamVersion: bigint | undefined,
    readonly eventType: string,
    /** The schema version the event was stored with. */
    readonly schemaVersion: number,
    readonly issues: readonly ValidationIssue[],
  ) {
    super(
      `Event ${eventType} (schema version ${schemaVersion}) at "${stream}"` +
        (streamVersion !== undefined ? ` version ${streamVersion}` : '') +
        ': ' +
        issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
    );
  }
}

/**
 * Checks and returns a registry: versions are whole and at least 1, and every version from 1 up to
 * the current one has an upcaster (so no stored event can be stranded by a missing step).
 * @throws TypeError naming the event type and the missing step.
 */
export function defineEventSchemas<const Defs extends Record<string, EventSchemaDefinition>>(definitions: Defs): Defs {
  for (const [type, def] of Object.entries(definitions)) {
    if (!Number.isInteger(def.version) || def.version < 1) {
      throw new TypeError(`Event schema ${type}: version must be a whole number of at least 1, got ${def.version}`);
    }
    for (let v = 1; v < def.version; v++) {
      if (typeof def.upcast?.[v] !== 'function') throw new TypeError(`Event schema ${type}: no upcast from version ${v} to ${v + 1}`);
    }
  }
  return Object.freeze({ ...definitions });
}

/** The schema version recorded in `metadata`; absent means 1. */
export function schemaVersionOf(metadata: EventMetadata | undefined): number {
  const v = metadata?.[SCHEMA_VERSION_KEY];
  return v === undefined ? 1 : (v as number);
}

/** Where an event sits, for error messages. */
export interface EventPlace {
  stream: string;
  streamVersion?: bigint;
}

/**
 * Brings one stored event's data to the current version of its type and validates it. Types the
 * registry does not know pass through unchanged.
 * @throws EventSchemaError
 */
export function upcastEvent(
  schemas: EventSchemas,
  event: { type: string; data: unknown; metadata: EventMetadata },
  place: EventPlace,
): unknown {
  const def = schemas[event.type];
  if (!def) return event.data;
  const stored = schemaVersionOf(event.metadata);
  const fail = (path: string, message: string) =>
    new EventSchemaError(place.stream, place.streamVersion, event.type, stored as number, [{ path, message }]);
  if (!Number.isInteger(stored) || stored < 1) throw fail(`metadata.${SCHEMA_VERSION_KEY}`, `not a schema version: ${String(stored)}`);
  if (stored > def.version) throw fail(`metadata.${SCHEMA_VERSION_KEY}`, `newer than this code knows (${def.version})`);
  let data = event.data;
  for (let v = stored; v < def.version; v++) data = def.upcast![v]!(data, event);
  const parsed = def.schema.safeParse(data);
  if (!parsed.success) throw new EventSchemaError(place.stream, place.streamVersion, event.type, stored, toIssues(parsed.error));
  return parsed.data;
}

/**
 * Checks data about to be written against the current schema, then brings it down to `target` (a
 * version older readers still understand) with the downcasters.
 * @throws EventSchemaError when the data fails the schema or a downcast step is missing.
 */
export function prepareForWrite(
  def: EventSchemaDefinition,
  event: { type: string; data: unknown; metadata: EventMetadata },
  target: number,
  stream: string,
): unknown {
  const parsed = def.schema.safeParse(event.data);
  if (!parsed.success) throw new EventSchemaError(stream, undefined, event.type, def.version, toIssues(parsed.error));
  let data: unknown = event.data;
  for (let v = def.version; v > target; v--) {
    const step = def.downcast?.[v];
    if (!step) throw new EventSchemaError(stream, undefined, event.type, def.version, [{ path: '', message: `no downcast from version ${v} to ${v - 1}` }]);
    data = step(data, event);
  }
  return data;
}

/** Whether `error` is an {@link EventSchemaError}, from any copy of the package. */
export function isEventSchemaError(error: unknown): error is EventSchemaError {
  return isOrdoError(error, EventSchemaError.code);
}
