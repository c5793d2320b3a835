/**
 * KurrentDB's v2 `StreamsService.AppendSession` (the client's `multiStreamAppend`), on the message
 * classes and service definition `@kurrent/kurrentdb-client` ships: a client stream of one
 * `AppendRequest` per stream, answered once, after an all-or-nothing commit, with each stream's
 * revision and the `$all` position of the last record. Failures carry the v2 error details the
 * client decodes (`StreamRevisionConflictErrorDetails`, `StreamTombstonedErrorDetails`,
 * `AppendTransactionSizeExceededErrorDetails`) in `grpc-status-details-bin`.
 */
import * as grpc from '@grpc/grpc-js';
import type { Database, ExpectedRevision, MultiAppendOutcome, MultiAppendRequest, ProposedEvent } from './database.js';
import type { Faults } from './faults.js';
import type { Protocol, ProtocolV2 } from './protocol.js';

/** The service name and method the client's feature check looks for. */
export const APPEND_SESSION = { service: 'kurrentdb.protocol.v2.streams.StreamsService', method: 'AppendSession' } as const;

interface V2Record {
  getRecordId(): string | undefined;
  getPropertiesMap(): { forEach(callback: (value: { getStringValue(): string }, key: string) => void): void };
  getSchema(): { getName(): string; getFormat(): number } | undefined;
  getData_asU8(): Uint8Array;
}

interface V2Request {
  getStream(): string;
  getRecordsList(): V2Record[];
  hasExpectedRevision(): boolean;
  getExpectedRevision(): string;
}

const SCHEMA_FORMAT_JSON = 1;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;

/** Adds the v2 streams service with `AppendSession` to `server`. */
export function addAppendSession(
  server: grpc.Server,
  db: Database,
  faults: Faults,
  cutter: { dropAll(): void },
  protocol: Protocol & { v2: ProtocolV2 },
): void {
  const { v2 } = protocol;
  server.addService(v2.streamsGrpc.StreamsServiceService as grpc.ServiceDefinition, {
    appendSession: (call: grpc.ServerReadableStream<V2Request, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const requests: MultiAppendRequest[] = [];
      call.on('data', (request: V2Request) => requests.push(requestOf(request)));
      call.on('error', () => undefined);
      call.on('end', () => {
        void faults.around('append', () => db.appendMulti(requests), () => call.cancelled).then((outcome) => {
          if (!outcome) return;
          if (outcome.kind === 'success' && faults.takeDropAfterCommit()) return cutter.dropAll();
          if (outcome.kind !== 'success') return callback(failure(protocol, outcome));
          const output = outcome.revisions.map(({ stream, revision }) =>
            new v2.streamsPb.AppendResponse().setStream(stream).setStreamRevision(String(revision)),
          );
          callback(null, new v2.streamsPb.AppendSessionResponse().setOutputList(output).setPosition(String(outcome.position)));
        });
      });
    },
  });
}

function requestOf(request: V2Request): MultiAppendRequest {
  return {
    stream: request.getStream(),
    expected: expectedOf(request.hasExpectedRevision() ? request.getExpectedRevision() : '-2'),
    events: request.getRecordsList().map(proposedOf),
  };
}

/** The v2 revision constants: -1 no stream, -2 any, -4 stream exists; otherwise an exact revision. */
function expectedOf(revision: string): ExpectedRevision {
  switch (revision) {
    case '-1':
      return { kind: 'no_stream' };
    case '-2':
      return { kind: 'any' };
    case '-4':
      return { kind: 'stream_exists' };
    default:
      return { kind: 'revision', revision: BigInt(revision) };
  }
}

function revisionOf(expected: ExpectedRevision): string {
  switch (expected.kind) {
    case 'no_stream':
      return '-1';
    case 'any':
      return '-2';
    case 'stream_exists':
      return '-4';
    case 'revision':
      return String(expected.revision);
  }
}

/** A record as stored: its string properties become the event's JSON metadata, as a v1 read shows them. */
function proposedOf(record: V2Record): ProposedEvent {
  const properties: Record<string, string> = {};
  record.getPropertiesMap().forEach((value, key) => (properties[key] = value.getStringValue()));
  const schema = record.getSchema();
  return {
    id: (record.getRecordId() ?? '').toLowerCase(),
    type: schema?.getName() ?? '',
    contentType: schema?.getFormat() === SCHEMA_FORMAT_JSON ? 'application/json' : 'application/octet-stream',
    data: record.getData_asU8(),
    customMetadata: Uint8Array.from(Buffer.from(JSON.stringify(properties), 'utf8')),
  };
}

function failure(protocol: Protocol & { v2: ProtocolV2 }, outcome: Exclude<MultiAppendOutcome, { kind: 'success' }>): grpc.ServiceError {
  const { errorsPb } = protocol.v2;
  switch (outcome.kind) {
    case 'revision_conflict': {
      const detail = new errorsPb.StreamRevisionConflictErrorDetails()
        .setStream(outcome.stream)
        .setExpectedRevision(revisionOf(outcome.expected))
        .setActualRevision(outcome.actual === null ? '-1' : String(outcome.actual));
      return statusError(protocol, FAILED_PRECONDITION, `Append failed due to a revision conflict on stream '${outcome.stream}'`, 'StreamRevisionConflictErrorDetails', detail);
    }
    case 'stream_tombstoned': {
      const detail = new errorsPb.StreamTombstonedErrorDetails().setStream(outcome.stream);
      return statusError(protocol, FAILED_PRECONDITION, `Stream '${outcome.stream}' is tombstoned`, 'StreamTombstonedErrorDetails', detail);
    }
    case 'too_big': {
      const detail = new errorsPb.AppendTransactionSizeExceededErrorDetails().setSize(outcome.size).setMaxSize(outcome.maxSize);
      return statusError(protocol, ABORTED, `The append transaction of ${outcome.size} bytes exceeds ${outcome.maxSize}`, 'AppendTransactionSizeExceededErrorDetails', detail);
    }
  }
}

/** A gRPC error with a `google.rpc.Status` (code, message, one packed detail) in `grpc-status-details-bin`. */
function statusError(
  protocol: Protocol,
  code: number,
  message: string,
  detailName: string,
  detail: { serializeBinary(): Uint8Array },
): grpc.ServiceError {
  const any = new protocol.GoogleAny();
  any.pack(detail.serializeBinary(), `kurrentdb.protocol.v2.streams.errors.${detailName}`);
  const status = new protocol.statusPb.Status().setCode(code).setMessage(message).setDetails(any as never);
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(status.serializeBinary()));
  return Object.assign(new Error(message), { code, details: message, metadata });
}
