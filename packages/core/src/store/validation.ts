import { ValidationError, type ValidationIssue } from '../errors.js';
import type { NewEvent } from '../events.js';
import type { ExpectedVersion, LogFilter, ReadAllOptions, ReadStreamOptions, StreamAppendRequest } from './event-store.js';

/** Limits every store enforces before writing, so bad input fails the same way everywhere. */
export interface AppendLimits {
  /** Largest JSON size of one event's data plus metadata, in UTF-8 bytes. Default 1 MiB. */
  maxEventBytes: number;
  /** Most events in one append (for an append to several streams: in all). Default 10,000. */
  maxBatchSize: number;
  /** Largest JSON size of one append's events together, in UTF-8 bytes. Default 128 MiB. */
  maxBatchBytes: number;
  /** Most streams in one append to several streams. Default 100. */
  maxStreamsPerAppend: number;
  /** Largest JSON size of all data and metadata of one append to several streams, in UTF-8 bytes. Default 16 MiB. */
  maxAppendBytes: number;
}

/**
 * The limits a store applies when it is given none: 1 MiB per event, 10,000 events and 128 MiB per
 * append, and for an append to several streams at most 100 streams and 16 MiB in all.
 */
export const DEFAULT_APPEND_LIMITS: AppendLimits = {
  maxEventBytes: 1024 * 1024,
  maxBatchSize: 10_000,
  maxBatchBytes: 128 * 1024 * 1024,
  maxStreamsPerAppend: 100,
  maxAppendBytes: 16 * 1024 * 1024,
};

/**
 * The largest stream version (and expected version) any store accepts: PostgreSQL's `bigint`
 * maximum, 2^63 − 1. EventStoreDB's revisions are unsigned 64-bit, so larger values would wrap there.
 */
export const MAX_STREAM_VERSION = 2n ** 63n - 1n;

const STREAM_NAME_MAX = 200;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Issues with a stream name: non-empty, at most 200 characters, no spaces or control characters, no leading `$`. */
export function streamNameIssues(stream: unknown, path = 'stream'): ValidationIssue[] {
  if (typeof stream !== 'string') return [{ path, message: `expected a string, got ${typeName(stream)}` }];
  if (stream.length === 0) return [{ path, message: 'must not be empty' }];
  if (stream.length > STREAM_NAME_MAX) return [{ path, message: `must be at most ${STREAM_NAME_MAX} characters` }];
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(stream)) return [{ path, message: 'must not contain spaces or control characters' }];
  if (stream.startsWith('$')) return [{ path, message: 'must not start with "$" (reserved for system streams)' }];
  if (!isWellFormed(stream)) return [{ path, message: UNPAIRED_SURROGATE }];
  return [];
}

const UNPAIRED_SURROGATE = 'must be well-formed Unicode (it holds an unpaired surrogate)';

/**
 * False when `text` holds a lone UTF-16 surrogate. Such text has no UTF-8 encoding: PostgreSQL
 * refuses it and other stores would silently turn it into U+FFFD, so every store refuses it.
 */
function isWellFormed(text: string): boolean {
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed;
  if (native) return native.call(text);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** Issues with an expected version: one of the three words, or a bigint from 0 to {@link MAX_STREAM_VERSION}. */
function expectedVersionIssues(expectedVersion: unknown): ValidationIssue[] {
  const path = 'expectedVersion';
  if (typeof expectedVersion === 'bigint') {
    if (expectedVersion < 0n) return [{ path, message: 'must be 0 or greater' }];
    if (expectedVersion > MAX_STREAM_VERSION) return [{ path, message: `must be at most ${MAX_STREAM_VERSION} (2^63 - 1)` }];
    return [];
  }
  if (['any', 'no_stream', 'stream_exists'].includes(expectedVersion as string)) return [];
  return [{ path, message: `expected 'any', 'no_stream', 'stream_exists' or a bigint` }];
}

/**
 * Checks the options of a stream read before any store sees them.
 * @throws ValidationError naming every failing field (`stream`, `fromVersion`, `maxCount`, `direction`).
 */
export function validateReadStream(stream: unknown, options: ReadStreamOptions | undefined): void {
  const issues = [...streamNameIssues(stream)];
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    issues.push({ path: 'options', message: `expected an object, got ${typeName(options)}` });
  } else if (options) {
    if (options.fromVersion !== undefined) issues.push(...versionIssues(options.fromVersion, 'fromVersion'));
    if (options.maxCount !== undefined) issues.push(...countIssues(options.maxCount, 'maxCount'));
    if (options.direction !== undefined && options.direction !== 'forwards' && options.direction !== 'backwards') {
      issues.push({ path: 'direction', message: `expected 'forwards' or 'backwards'` });
    }
  }
  if (issues.length > 0) throw new ValidationError('stream read', issues);
}

/**
 * Checks the options of a global log read or subscription before any store sees them.
 * @throws ValidationError naming every failing field (`after`, `maxCount`, `filter.streamPrefixes.0`, …).
 */
export function validateReadAll(options: Pick<ReadAllOptions, 'after' | 'maxCount' | 'filter'> | undefined, subject = 'log read'): void {
  const issues: ValidationIssue[] = [];
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    issues.push({ path: 'options', message: `expected an object, got ${typeName(options)}` });
  } else if (options) {
    if (options.after !== undefined) issues.push(...versionIssues(options.after, 'after'));
    if (options.maxCount !== undefined) issues.push(...countIssues(options.maxCount, 'maxCount'));
    if (options.filter !== undefined) issues.push(...filterIssues(options.filter));
  }
  if (issues.length > 0) throw new ValidationError(subject, issues);
}

/** A version or position: a bigint from 0 to 2^63 − 1. */
function versionIssues(value: unknown, path: string): ValidationIssue[] {
  if (typeof value !== 'bigint') return [{ path, message: `expected a bigint, got ${typeName(value)}` }];
  if (value < 0n) return [{ path, message: 'must be 0 or greater' }];
  if (value > MAX_STREAM_VERSION) return [{ path, message: `must be at most ${MAX_STREAM_VERSION} (2^63 - 1)` }];
  return [];
}

/** A count: a whole number from 0, or `Infinity` for "no limit". */
function countIssues(value: unknown, path: string): ValidationIssue[] {
  if (typeof value !== 'number') return [{ path, message: `expected a number, got ${typeName(value)}` }];
  if (value === Number.POSITIVE_INFINITY) return [];
  if (!Number.isSafeInteger(value) || value < 0) return [{ path, message: `must be a whole number, 0 or greater, got ${value}` }];
  return [];
}

function filterIssues(filter: unknown): ValidationIssue[] {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    return [{ path: 'filter', message: `expected an object, got ${typeName(filter)}` }];
  }
  const { eventTypes, streamPrefixes } = filter as LogFilter;
  return [...textListIssues(eventTypes, 'filter.eventTypes'), ...textListIssues(streamPrefixes, 'filter.streamPrefixes')];
}

/** A list of names to match: strings of at most 200 characters, without control characters, well-formed. */
function textListIssues(list: unknown, path: string): ValidationIssue[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return [{ path, message: `expected an array of strings, got ${typeName(list)}` }];
  const issues: ValidationIssue[] = [];
  list.forEach((item: unknown, i) => {
    const at = `${path}.${i}`;
    if (typeof item !== 'string') issues.push({ path: at, message: `expected a string, got ${typeName(item)}` });
    else if (item.length > STREAM_NAME_MAX) issues.push({ path: at, message: `must be at most ${STREAM_NAME_MAX} characters` });
    // eslint-disable-next-line no-control-regex
    else if (/[\u0000-\u001f\u007f]/.test(item)) issues.push({ path: at, message: 'must not contain control characters' });
    else if (!isWellFormed(item)) issues.push({ path: at, message: UNPAIRED_SURROGATE });
  });
  return issues;
}

/**
 * An event of a checked append, its data and metadata already written as JSON text: what a store
 * that sends JSON (PostgreSQL, EventStoreDB) needs, serialised once.
 */
export interface SerializedEvent {
  /** The event id, in lower case. */
  id: string;
  /** The event type. */
  type: string;
  /** The event's data as JSON text. */
  data: string;
  /** The event's metadata as JSON text (`{}` when there is none). */
  metadata: string;
}

/**
 * Checks an append before any store sees it, and returns the events as they will be stored: data
 * and metadata copied through JSON, so what a reader gets back is exactly what any store keeps.
 * @throws ValidationError naming every failing field; nothing is written.
 */
export function validateAppend(
  stream: unknown,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
  limits: AppendLimits = DEFAULT_APPEND_LIMITS,
): NewEvent[] {
  return serializeAppend(stream, events, expectedVersion, limits).map((event) => ({
    id: event.id,
    type: event.type,
    data: JSON.parse(event.data),
    metadata: JSON.parse(event.metadata),
  }));
}

/**
 * {@link validateAppend} for a store that keeps JSON text: the same checks and errors, and each
 * event's data and metadata serialised once, not copied back into objects.
 * @throws ValidationError naming every failing field; nothing is written.
 */
export function serializeAppend(
  stream: unknown,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
  limits: AppendLimits = DEFAULT_APPEND_LIMITS,
): SerializedEvent[] {
  const issues: ValidationIssue[] = [...streamNameIssues(stream), ...expectedVersionIssues(expectedVersion)];
  if (!Array.isArray(events)) {
    issues.push({ path: 'events', message: `expected an array, got ${typeName(events)}` });
    throw new ValidationError('append', issues);
  }
  if (events.length === 0) issues.push({ path: 'events', message: 'must contain at least one event' });
  if (events.length > limits.maxBatchSize) {
    issues.push({ path: 'events', message: `must contain at most ${limits.maxBatchSize} events` });
  }
  const seen = events.length > 1 ? new Set<string>() : undefined;
  const serialized: SerializedEvent[] = [];
  let batchBytes = 0;
  events.forEach((event, i) => {
    const at = `events.${i}`;
    eventIssues(event, at, seen, issues);
    if (issues.length > 0) return;
    const data = JSON.stringify(event.data);
    const metadata = event.metadata === undefined ? '{}' : JSON.stringify(event.metadata);
    const bytes = Buffer.byteLength(data) + Buffer.byteLength(metadata);
    if (bytes > limits.maxEventBytes) {
      issues.push({ path: at, message: `is ${bytes} bytes of JSON; the limit is ${limits.maxEventBytes}` });
      return;
    }
    batchBytes += bytes;
    if (batchBytes > limits.maxBatchBytes) {
      // Reported once, at the event that crosses the limit; later events are not copied.
      if (!issues.some((issue) => issue.path === 'events')) {
        issues.push({ path: 'events', message: `hold more than ${limits.maxBatchBytes} bytes of JSON in all (the limit of one append)` });
      }
      return;
    }
    serialized.push({ id: event.id.toLowerCase(), type: event.type, data, metadata });
  });
  if (issues.length > 0) throw new ValidationError('append', issues);
  return serialized;
}

/** What is wrong with one event of an append: its shape, id (`seen`: ids earlier in the batch), type and JSON. */
function eventIssues(event: NewEvent, at: string, seen: Set<string> | undefined, issues: ValidationIssue[]): void {
  if (typeof event !== 'object' || event === null) {
    issues.push({ path: at, message: `expected an event object, got ${typeName(event)}` });
    return;
  }
  if (typeof event.id !== 'string' || !UUID.test(event.id)) {
    issues.push({ path: `${at}.id`, message: 'must be a UUID' });
  } else if (seen) {
    const id = event.id.toLowerCase();
    if (seen.has(id)) issues.push({ path: `${at}.id`, message: `repeats the id ${id} within one append` });
    seen.add(id);
  }
  if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type)) {
    issues.push({
      path: `${at}.type`,
      message: 'must start with a letter and hold only letters, digits, "_", ".", ":" or "-" (at most 200)',
    });
  }
  // The quick check first: paths are only built to name what is wrong.
  if (!isJsonValue(event.data, 0)) issues.push(...jsonIssues(event.data, `${at}.data`));
  if (event.metadata !== undefined) {
    if (!isPlainObject(event.metadata)) issues.push({ path: `${at}.metadata`, message: 'must be an object' });
    else if (!isJsonValue(event.metadata, 0)) issues.push(...jsonIssues(event.metadata, `${at}.metadata`));
  }
}

/** A request of an append to several streams as it will be stored (see {@link validateAppends}). */
export interface ValidStreamAppend {
  stream: string;
  events: NewEvent[];
  expectedVersion: ExpectedVersion;
}

/**
 * {@link validateAppend} for an append to several streams: each request as one append (issues are
 * named `requests.<i>.…`), and the call as a whole: at least one request, at most
 * `maxStreamsPerAppend`, no stream twice, no event id twice, at most `maxBatchSize` events and
 * `maxAppendBytes` bytes of JSON in all.
 * @throws ValidationError naming every failing field; nothing is written.
 */
export function validateAppends(
  requests: readonly StreamAppendRequest[],
  limits: AppendLimits = DEFAULT_APPEND_LIMITS,
): ValidStreamAppend[] {
  if (!Array.isArray(requests)) {
    throw new ValidationError('append', [{ path: 'requests', message: `expected an array, got ${typeName(requests)}` }]);
  }
  const issues: ValidationIssue[] = [];
  if (requests.length === 0) issues.push({ path: 'requests', message: 'must contain at least one request' });
  if (requests.length > limits.maxStreamsPerAppend) {
    issues.push({ path: 'requests', message: `must name at most ${limits.maxStreamsPerAppend} streams` });
  }
  const valid: ValidStreamAppend[] = [];
  requests.forEach((request, i) => {
    const at = `requests.${i}`;
    if (typeof request !== 'object' || request === null) {
      issues.push({ path: at, message: `expected a request object, got ${typeName(request)}` });
      return;
    }
    try {
      const events = validateAppend(request.stream, request.events, request.expectedVersion, limits);
      valid.push({ stream: request.stream, events, expectedVersion: request.expectedVersion });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues.map((issue) => ({ ...issue, path: `${at}.${issue.path}` })));
    }
  });
  if (issues.length === 0) issues.push(...wholeCallIssues(valid, limits));
  if (issues.length > 0) throw new ValidationError('append', issues);
  return valid;
}

/** What is wrong with an append to several streams as a whole (its requests each being valid). */
function wholeCallIssues(valid: readonly ValidStreamAppend[], limits: AppendLimits): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const streams = new Map<string, number>();
  const ids = new Map<string, number>();
  let events = 0;
  let bytes = 0;
  valid.forEach((request, i) => {
    const earlier = streams.get(request.stream);
    if (earlier !== undefined) {
      issues.push({ path: `requests.${i}.stream`, message: `names "${request.stream}" again (as requests.${earlier} does); one request per stream` });
    }
    streams.set(request.stream, i);
    request.events.forEach((event, j) => {
      const owner = ids.get(event.id);
      if (owner !== undefined) issues.push({ path: `requests.${i}.events.${j}.id`, message: `repeats the id ${event.id} of requests.${owner}` });
      ids.set(event.id, i);
      bytes += Buffer.byteLength(JSON.stringify(event.data)) + Buffer.byteLength(JSON.stringify(event.metadata ?? {}));
    });
    events += request.events.length;
  });
  if (events > limits.maxBatchSize) issues.push({ path: 'requests', message: `hold ${events} events; the limit of one append is ${limits.maxBatchSize}` });
  if (bytes > limits.maxAppendBytes) {
    issues.push({ path: 'requests', message: `hold ${bytes} bytes of JSON in all; the limit of one append is ${limits.maxAppendBytes}` });
  }
  return issues;
}

/** Issues that keep `value` from being stored as JSON unchanged (only the first few are listed). */
/** True when `value` is what {@link jsonIssues} accepts (it names the problems; this only says whether there are any). */
function isJsonValue(value: unknown, depth: number): boolean {
  if (depth > 64) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) {
    for (const item of value) if (item === undefined || !isJsonValue(item, depth + 1)) return false;
    return true;
  }
  if (!isPlainObject(value)) return false;
  for (const key in value) {
    const item = value[key];
    if (item !== undefined && !isJsonValue(item, depth + 1)) return false;
  }
  return true;
}

function jsonIssues(value: unknown, path: string, depth = 0, out: ValidationIssue[] = []): ValidationIssue[] {
  if (out.length >= 5) return out;
  if (depth > 64) {
    out.push({ path, message: 'is nested more than 64 levels deep' });
    return out;
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return out;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) out.push({ path, message: `must be a finite number, got ${value}` });
    return out;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (item === undefined) out.push({ path: `${path}.${i}`, message: 'must not be undefined' });
      else jsonIssues(item, `${path}.${i}`, depth + 1, out);
    });
    return out;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      // An undefined property is how an optional field is left out; JSON drops it, which is intended.
      if (item !== undefined) jsonIssues(item, `${path}.${key}`, depth + 1, out);
    }
    return out;
  }
  out.push({ path, message: `must be JSON (object, array, string, finite number, boolean or null), got ${typeName(value)}` });
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}
