/**
 * The protocol's message classes and service definitions, taken from the generated code that the
 * client package under test itself ships, so that the server and the client agree on every field.
 *
 * Both clients generate their classes into google-protobuf's one global namespace, and whichever is
 * loaded last replaces the other's serializers. So a process serves one client package: the server
 * loads the generated code of the package it is told to (`@eventstore/db-client` by default), and
 * starting servers for both in one process is refused.
 */
import { createRequire } from 'node:module';

type StreamsPb = typeof import('@eventstore/db-client/generated/streams_pb.js');
type StreamsGrpc = typeof import('@eventstore/db-client/generated/streams_grpc_pb.js');
type SharedPb = typeof import('@eventstore/db-client/generated/shared_pb.js');
type StatusPb = typeof import('@eventstore/db-client/generated/status_pb.js');
type FeaturesPb = typeof import('@eventstore/db-client/generated/serverfeatures_pb.js');
type FeaturesGrpc = typeof import('@eventstore/db-client/generated/serverfeatures_grpc_pb.js');
type GossipPb = typeof import('@eventstore/db-client/generated/gossip_pb.js');
type GossipGrpc = typeof import('@eventstore/db-client/generated/gossip_grpc_pb.js');

interface AnyMessage {
  pack(serialized: Uint8Array, name: string): void;
}

/** Which client package's generated code the server speaks with. */
export type ProtocolSource = 'eventstore' | 'kurrent';

/** The generated modules of one client package. */
export interface Protocol {
  source: ProtocolSource;
  streamsPb: StreamsPb;
  streamsGrpc: StreamsGrpc;
  sharedPb: SharedPb;
  statusPb: StatusPb;
  featuresPb: FeaturesPb;
  featuresGrpc: FeaturesGrpc;
  gossipPb: GossipPb;
  gossipGrpc: GossipGrpc;
  /** `google.protobuf.Empty`, as the generated code uses it. */
  GoogleEmpty: new () => object;
  /** `google.protobuf.Any`, as the generated code uses it. */
  GoogleAny: new () => AnyMessage;
  /** The v2 protocol (KurrentDB's multi-stream append), shipped by `@kurrent/kurrentdb-client` only. */
  v2?: ProtocolV2;
}

/** The generated v2 streams modules: messages, service definition, error details. */
export interface ProtocolV2 {
  // The generated code ships JavaScript with declarations the test server reads through these shapes.
  streamsPb: V2StreamsPb;
  streamsGrpc: { StreamsServiceService: unknown };
  errorsPb: V2ErrorsPb;
}

interface V2Message {
  serializeBinary(): Uint8Array;
}

/** The v2 messages the test server reads and writes. */
export interface V2StreamsPb {
  AppendResponse: new () => V2AppendResponse;
  AppendSessionResponse: new () => V2AppendSessionResponse;
}

/** A v2 append's answer for one stream. */
export interface V2AppendResponse extends V2Message {
  setStream(s: string): V2AppendResponse;
  setStreamRevision(r: string): V2AppendResponse;
}

/** A v2 append session's answer. */
export interface V2AppendSessionResponse extends V2Message {
  setOutputList(list: V2AppendResponse[]): V2AppendSessionResponse;
  setPosition(p: string): V2AppendSessionResponse;
}

/** The v2 error details the test server sends. */
export interface V2ErrorsPb {
  StreamRevisionConflictErrorDetails: new () => V2Message & {
    setStream(s: string): V2Message & { setExpectedRevision(r: string): V2Message & { setActualRevision(r: string): V2Message } };
  };
  StreamTombstonedErrorDetails: new () => V2Message & { setStream(s: string): V2Message };
  AppendTransactionSizeExceededErrorDetails: new () => V2Message & { setSize(n: number): V2Message & { setMaxSize(n: number): V2Message } };
}

const PACKAGES: Record<ProtocolSource, { name: string; generated: string }> = {
  eventstore: { name: '@eventstore/db-client', generated: 'generated' },
  kurrent: { name: '@kurrent/kurrentdb-client', generated: 'generated/kurrentdb/protocols/v1' },
};

let loaded: Protocol | undefined;

/** Loads (once per process) the generated code of `source`. */
export function loadProtocol(source: ProtocolSource = 'eventstore'): Protocol {
  if (loaded) {
    if (loaded.source !== source) {
      throw new Error(`This process already serves the ${loaded.source} client's protocol classes; run ${source} tests in another test file`);
    }
    return loaded;
  }
  const require = createRequire(import.meta.url);
  const { name, generated } = PACKAGES[source];
  const packageRequire = createRequire(require.resolve(`${name}/package.json`));
  const load = (file: string) => packageRequire(`./${generated}/${file}`);
  loaded = {
    source,
    streamsPb: load('streams_pb.js'),
    streamsGrpc: load('streams_grpc_pb.js'),
    sharedPb: load('shared_pb.js'),
    statusPb: load('status_pb.js'),
    featuresPb: load('serverfeatures_pb.js'),
    featuresGrpc: load('serverfeatures_grpc_pb.js'),
    gossipPb: load('gossip_pb.js'),
    gossipGrpc: load('gossip_grpc_pb.js'),
    GoogleEmpty: packageRequire('google-protobuf/google/protobuf/empty_pb.js').Empty,
    GoogleAny: packageRequire('google-protobuf/google/protobuf/any_pb.js').Any,
    ...(source === 'kurrent' && {
      v2: {
        streamsPb: packageRequire('./generated/kurrentdb/protocols/v2/streams/streams_pb.js'),
        streamsGrpc: packageRequire('./generated/kurrentdb/protocols/v2/streams/streams_grpc_pb.js'),
        errorsPb: packageRequire('./generated/kurrentdb/protocols/v2/streams/errors_pb.js'),
      },
    }),
  };
  return loaded;
}

/** `google.rpc.Code` values used in error details. */
export const RpcCode = { INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, FAILED_PRECONDITION: 9 } as const;
