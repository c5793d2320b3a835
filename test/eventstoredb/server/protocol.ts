/**
 * The protocol's message classes and service definitions, taken from the generated code that
 * `@eventstore/db-client` ships, so that the server and the client agree on every field.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const clientRequire = createRequire(require.resolve('@eventstore/db-client/package.json'));

export const streamsPb = require('@eventstore/db-client/generated/streams_pb.js') as typeof import('@eventstore/db-client/generated/streams_pb.js');
export const streamsGrpc = require('@eventstore/db-client/generated/streams_grpc_pb.js') as typeof import('@eventstore/db-client/generated/streams_grpc_pb.js');
export const sharedPb = require('@eventstore/db-client/generated/shared_pb.js') as typeof import('@eventstore/db-client/generated/shared_pb.js');
export const statusPb = require('@eventstore/db-client/generated/status_pb.js') as typeof import('@eventstore/db-client/generated/status_pb.js');
export const featuresPb = require('@eventstore/db-client/generated/serverfeatures_pb.js') as typeof import('@eventstore/db-client/generated/serverfeatures_pb.js');
export const featuresGrpc = require('@eventstore/db-client/generated/serverfeatures_grpc_pb.js') as typeof import('@eventstore/db-client/generated/serverfeatures_grpc_pb.js');
export const gossipPb = require('@eventstore/db-client/generated/gossip_pb.js') as typeof import('@eventstore/db-client/generated/gossip_pb.js');
export const gossipGrpc = require('@eventstore/db-client/generated/gossip_grpc_pb.js') as typeof import('@eventstore/db-client/generated/gossip_grpc_pb.js');

/** `google.protobuf.Empty`, as the client's generated code uses it. */
export const GoogleEmpty = clientRequire('google-protobuf/google/protobuf/empty_pb.js').Empty as new () => object;

interface AnyMessage {
  pack(serialized: Uint8Array, name: string): void;
}
/** `google.protobuf.Any`, as the client's generated code uses it. */
export const GoogleAny = clientRequire('google-protobuf/google/protobuf/any_pb.js').Any as new () => AnyMessage;

/** `google.rpc.Code` values used in error details. */
export const RpcCode = { INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, FAILED_PRECONDITION: 9 } as const;
