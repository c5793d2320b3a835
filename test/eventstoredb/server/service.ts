/**
 * The gRPC side of the test server: the Streams, ServerFeatures and Gossip services on the
 * message classes the client ships, mapped onto {@link Database}, with the fault hooks applied.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  Database,
  matches,
  type AllFilter,
  type AppendOutcome,
  type DeleteOutcome,
  type ExpectedRevision,
  type ProposedEvent,
  type StoredEvent,
} from './database.js';
import type { Faults } from './faults.js';
import { APPEND_SESSION, addAppendSession } from './multi-append.js';
import { RpcCode, type Protocol } from './protocol.js';

// The generated classes in use; set by `addServices` (one protocol source per process).
let streamsPb: Protocol['streamsPb'];
let streamsGrpc: Protocol['streamsGrpc'];
let sharedPb: Protocol['sharedPb'];
let statusPb: Protocol['statusPb'];
let featuresPb: Protocol['featuresPb'];
let featuresGrpc: Protocol['featuresGrpc'];
let gossipPb: Protocol['gossipPb'];
let gossipGrpc: Protocol['gossipGrpc'];
let GoogleEmpty: Protocol['GoogleEmpty'];
let GoogleAny: Protocol['GoogleAny'];

type ReadReq = InstanceType<typeof streamsPb.ReadReq>;
type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
type AppendReq = InstanceType<typeof streamsPb.AppendReq>;
type AppendResp = InstanceType<typeof streamsPb.AppendResp>;
type BatchAppendReq = InstanceType<typeof streamsPb.BatchAppendReq>;
type BatchAppendResp = InstanceType<typeof streamsPb.BatchAppendResp>;
type DeleteReq = InstanceType<typeof streamsPb.DeleteReq>;
type DeleteResp = InstanceType<typeof streamsPb.DeleteResp>;
type TombstoneReq = InstanceType<typeof streamsPb.TombstoneReq>;
type TombstoneResp = InstanceType<typeof streamsPb.TombstoneResp>;
type UUIDMessage = InstanceType<typeof sharedPb.UUID>;
type StreamIdentifier = InstanceType<typeof sharedPb.StreamIdentifier>;

/** What the server tells clients about itself. */
export interface ServiceOptions {
  /** Offer BatchAppend (servers since 21.10 do; clients then use it for appends). Default true. */
  batchAppend: boolean;
  /** Send a caught-up notice when a subscription turns live (servers since 23.10 do). Default true. */
  caughtUpNotices: boolean;
  /** Offer the v2 multi-stream append (with the KurrentDB client's protocol only). */
  multiStreamAppend: boolean;
  /** The version reported by ServerFeatures. */
  serverVersion: string;
  /** Counters the server keeps, for tests that check what a client asked for. */
  stats: ServerStats;
}

/** What the server counts. */
export interface ServerStats {
  /** Events sent in answer to `$all` reads (not subscriptions). */
  allReadEventsSent: number;
}

/** Something that can cut every client connection (the relay in front of the server). */
export interface ConnectionCutter {
  dropAll(): void;
}

const DEFAULT_WINDOW = 32;

/** Adds the Streams, ServerFeatures and Gossip services, answering from `db` with `protocol`'s classes. */
export function addServices(
  server: grpc.Server,
  db: Database,
  faults: Faults,
  cutter: ConnectionCutter,
  options: ServiceOptions,
  protocol: Protocol,
): void {
  ({ streamsPb, streamsGrpc, sharedPb, statusPb, featuresPb, featuresGrpc, gossipPb, gossipGrpc, GoogleEmpty, GoogleAny } = protocol);
  const streams: grpc.UntypedServiceImplementation = {
    read: (call: grpc.ServerWritableStream<ReadReq, ReadResp>) => {
      void handleRead(call, db, faults, cutter, options).catch((error: unknown) => failCall(call, error));
    },
    append: (call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>) => {
      handleAppend(call, callback, db, faults, cutter);
    },
    batchAppend: (call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => {
      handleBatchAppend(call, db, faults, cutter);
    },
    delete: (call: grpc.ServerUnaryCall<DeleteReq, DeleteResp>, callback: grpc.sendUnaryData<DeleteResp>) => {
      const o = call.request.getOptions()!;
      const stream = streamName(o.getStreamIdentifier());
      void faults.around('delete', () => db.softDelete(stream, expectedOf(o)), () => call.cancelled).then((outcome) => {
        if (!outcome) return;
        if (outcome.kind !== 'success') return callback(deleteError(stream, outcome));
        const resp = new streamsPb.DeleteResp();
        resp.setPosition(new streamsPb.DeleteResp.Position().setCommitPosition(String(outcome.position)).setPreparePosition(String(outcome.position)));
        callback(null, resp);
      });
    },
    tombstone: (call: grpc.ServerUnaryCall<TombstoneReq, TombstoneResp>, callback: grpc.sendUnaryData<TombstoneResp>) => {
      const o = call.request.getOptions()!;
      const stream = streamName(o.getStreamIdentifier());
      void faults.around('tombstone', () => db.tombstone(stream, expectedOf(o)), () => call.cancelled).then((outcome) => {
        if (!outcome) return;
        if (outcome.kind !== 'success') return callback(deleteError(stream, outcome));
        const resp = new streamsPb.TombstoneResp();
        resp.setPosition(new streamsPb.TombstoneResp.Position().setCommitPosition(String(outcome.position)).setPreparePosition(String(outcome.position)));
        callback(null, resp);
      });
    },
  };
  server.addService(streamsGrpc.StreamsService as unknown as grpc.ServiceDefinition, streams);

  server.addService(featuresGrpc.ServerFeaturesService as unknown as grpc.ServiceDefinition, {
    getSupportedMethods: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const methods = ['read', 'append', 'delete', 'tombstone', ...(options.batchAppend ? ['batchappend'] : [])].map((name) =>
        new featuresPb.SupportedMethod().setServiceName('event_store.client.streams.streams').setMethodName(name),
      );
      methods.push(new featuresPb.SupportedMethod().setServiceName('event_store.client.server_features.serverfeatures').setMethodName('getsupportedmethods'));
      // KurrentDB 25.1's multi-stream append, offered to the client whose generated code has it.
      if (protocol.v2 && options.multiStreamAppend) methods.push(new featuresPb.SupportedMethod().setServiceName(APPEND_SESSION.service).setMethodName(APPEND_SESSION.method));
      callback(null, new featuresPb.SupportedMethods().setMethodsList(methods).setEventStoreServerVersion(options.serverVersion));
    },
  });

  if (protocol.v2 && options.multiStreamAppend) addAppendSession(server, db, faults, cutter, { ...protocol, v2: protocol.v2 });

  server.addService(gossipGrpc.GossipService as unknown as grpc.ServiceDefinition, {
    read: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      // One node, always the leader, reachable where the client already is.
      const [host, port] = hostAndPort(call.getHost());
      const member = new gossipPb.MemberInfo()
        .setInstanceId(uuidMessage(randomUUID()))
        .setTimeStamp(String(Date.now() * 10_000))
        .setState(gossipPb.MemberInfo.VNodeState.LEADER)
        .setIsAlive(true)
        .setHttpEndPoint(new gossipPb.EndPoint().setAddress(host).setPort(port));
      callback(null, new gossipPb.ClusterInfo().setMembersList([member]));
    },
  });
}

// ---- reads and subscriptions ------------------------------------------------------------------

async function handleRead(
  call: grpc.ServerWritableStream<ReadReq, ReadResp>,
  db: Database,
  faults: Faults,
  cutter: ConnectionCutter,
  options: ServiceOptions,
): Promise<void> {
  const o = call.request.getOptions()!;
  const structuredIds = o.getUuidOption()?.hasStructured() ?? false;
  const direction = o.getReadDirection() === streamsPb.ReadReq.Options.ReadDirection.BACKWARDS ? 'backwards' : 'forwards';
  const count = o.hasCount() ? Number(BigInt(o.getCount())) : Number.MAX_SAFE_INTEGER;
  const writer = new Writer(call);

  if (o.hasStream()) {
    const s = o.getStream()!;
    const stream = streamName(s.getStreamIdentifier());
    const from = s.hasRevision() ? BigInt(s.getRevision()) : s.hasEnd() ? 'end' : 'start';
    if (o.hasSubscription()) {
      await subscribeToStream(call, db, options, stream, { from, writer, structuredIds });
      return;
    }
    const outcome = await faults.around('read', () => db.readStream(stream, from, direction, count), () => call.cancelled);
    if (!outcome) return;
    if (outcome.kind === 'stream_deleted') {
      call.emit('error', streamDeletedError(stream));
      return;
    }
    if (outcome.kind === 'not_found') {
      await writer.write(new streamsPb.ReadResp().setStreamNotFound(new streamsPb.ReadResp.StreamNotFound().setStreamIdentifier(identifier(stream))));
    } else {
      for (const event of outcome.events) {
        if (call.cancelled) return;
        await writer.write(eventResponse(event, structuredIds));
      }
    }
    call.end();
    return;
  }

  const all = o.getAll()!;
  const from = all.hasPosition() ? BigInt(all.getPosition()!.getCommitPosition()) : all.hasEnd() ? 'end' : 'start';
  const filter = filterOf(o);
  if (!o.hasSubscription()) {
    const events = await faults.around('read', () => db.readAll(from, direction, count, filter), () => call.cancelled);
    if (!events) return;
    for (const event of events) {
      if (call.cancelled) return;
      options.stats.allReadEventsSent++;
      await writer.write(eventResponse(event, structuredIds));
    }
    call.end();
    return;
  }

  await subscribeToAll(call, db, faults, cutter, options, { from, filter, writer, structuredIds });
}

/** Where a subscription starts, what it sends, and how. */
interface SubscriptionStart<From> {
  from: From;
  filter?: AllFilter | undefined;
  writer: Writer;
  structuredIds: boolean;
}

/**
 * How many examined events (matching or not) go between two checkpoints of a filtered
 * subscription: the checkpoint interval multiplier times the search window (`max`, or 32 when the
 * client sends `count`, as the real server defaults it). Unfiltered subscriptions get none.
 */
function checkpointIntervalOf(o: InstanceType<typeof streamsPb.ReadReq.Options>): number {
  if (!o.hasFilter()) return Number.POSITIVE_INFINITY;
  const f = o.getFilter()!;
  return Math.max(1, (f.hasMax() ? f.getMax() : DEFAULT_WINDOW) * Math.max(1, f.getCheckpointintervalmultiplier()));
}

function checkpointResponse(position: bigint): ReadResp {
  const p = String(position);
  return new streamsPb.ReadResp().setCheckpoint(new streamsPb.ReadResp.Checkpoint().setCommitPosition(p).setPreparePosition(p));
}

/**
 * A catch-up subscription to `$all`: confirm, catch up, then live. A filtered subscription gets a
 * checkpoint every `checkpointInterval` events the server examines, matching or not, and one at the
 * last examined position when catch-up ends, just before the caught-up notice, as a real server
 * sends them: a client with a sparse filter learns its progress without reading what it skips.
 */
async function subscribeToAll(
  call: grpc.ServerWritableStream<ReadReq, ReadResp>,
  db: Database,
  faults: Faults,
  cutter: ConnectionCutter,
  options: ServiceOptions,
  start: SubscriptionStart<'start' | 'end' | bigint>,
): Promise<void> {
  const { from, filter, writer, structuredIds } = start;
  const checkpointEvery = checkpointIntervalOf(call.request.getOptions()!);
  const plan = faults.takeSubscriptionDrop();
  let index = from === 'start' ? 0 : from === 'end' ? db.log.length : db.indexAtOrAfter(from);
  if (typeof from === 'bigint' && db.log[index]?.position === from) index++; // subscriptions start after the position
  let sinceCheckpoint = 0;
  let sent = 0;
  let live = false;
  await liveLoop(call, db, async () => {
    await writer.write(new streamsPb.ReadResp().setConfirmation(new streamsPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));
  }, async () => {
    while (index < db.log.length && !call.cancelled) {
      const event = db.log[index++]!;
      sinceCheckpoint++;
      if (matches(event, filter)) {
        await writer.write(eventResponse(event, structuredIds));
        if (plan !== undefined && ++sent >= plan) {
          faults.subscriptionDropped();
          cutter.dropAll();
          return false;
        }
      }
      if (sinceCheckpoint >= checkpointEvery) {
        sinceCheckpoint = 0;
        await writer.write(checkpointResponse(event.position));
      }
    }
    if (call.cancelled || live) return !call.cancelled;
    live = true;
    const last = db.log[index - 1];
    if (filter && last) {
      sinceCheckpoint = 0;
      await writer.write(checkpointResponse(last.position));
    }
    if (options.caughtUpNotices) await writer.write(new streamsPb.ReadResp().setCaughtUp(new streamsPb.ReadResp.CaughtUp()));
    return !call.cancelled;
  }, () => index < db.log.length);
}

/**
 * Runs a subscription: `confirm`, then `catchUp` (sends what is there; `false` ends the call),
 * then waits for writes (`pending` says whether there is something new) and catches up again,
 * until the client cancels.
 */
async function liveLoop(
  call: grpc.ServerWritableStream<ReadReq, ReadResp>,
  db: Database,
  confirm: () => Promise<void>,
  catchUp: () => Promise<boolean>,
  pending: () => boolean,
): Promise<void> {
  let wake: (() => void) | undefined;
  const unsubscribe = db.onWrite(() => wake?.());
  const onCancel = () => wake?.();
  call.on('cancelled', onCancel);
  try {
    await confirm();
    while (!call.cancelled) {
      if (!(await catchUp())) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (pending() || call.cancelled) resolve();
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
    call.off('cancelled', onCancel);
  }
}

/**
 * A catch-up subscription to one stream: the events after `from` (a revision, exclusive, as for
 * `$all`), then live; a caught-up notice in between. The stream need not exist yet. A stream that
 * is or becomes hard-deleted ends the call with "stream deleted", as on the real server.
 */
async function subscribeToStream(
  call: grpc.ServerWritableStream<ReadReq, ReadResp>,
  db: Database,
  options: ServiceOptions,
  stream: string,
  start: SubscriptionStart<'start' | 'end' | bigint>,
): Promise<void> {
  const { from, writer, structuredIds } = start;
  let next = from === 'start' ? 0n : from === 'end' ? nextRevisionOf(db, stream) : from + 1n;
  let live = false;
  await liveLoop(call, db, async () => {
    await writer.write(new streamsPb.ReadResp().setConfirmation(new streamsPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));
  }, async () => {
    if (db.isTombstoned(stream)) {
      call.emit('error', streamDeletedError(stream));
      return false;
    }
    const outcome = db.readStream(stream, next, 'forwards', Number.MAX_SAFE_INTEGER);
    for (const event of outcome.kind === 'events' ? outcome.events : []) {
      if (call.cancelled) return false;
      await writer.write(eventResponse(event, structuredIds));
      next = event.revision + 1n;
    }
    if (!live && options.caughtUpNotices) await writer.write(new streamsPb.ReadResp().setCaughtUp(new streamsPb.ReadResp.CaughtUp()));
    live = true;
    return !call.cancelled;
  }, () => db.isTombstoned(stream) || nextRevisionOf(db, stream) > next);
}

/** The revision the stream's next event will get (revisions continue after a soft delete). */
function nextRevisionOf(db: Database, stream: string): bigint {
  return db.streamLength(stream);
}

/** Writes with backpressure: waits for `drain` when the transport's buffer is full. */
class Writer {
  constructor(private readonly call: grpc.ServerWritableStream<unknown, unknown>) {}
  async write(message: unknown): Promise<void> {
    if (this.call.cancelled) return;
    if (!this.call.write(message)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.call.off('drain', done);
          this.call.off('cancelled', done);
          resolve();
        };
        this.call.on('drain', done);
        this.call.on('cancelled', done);
      });
    }
  }
}

function filterOf(o: InstanceType<typeof streamsPb.ReadReq.Options>): AllFilter | undefined {
  if (!o.hasFilter()) return undefined;
  const f = o.getFilter()!;
  const on = f.hasStreamIdentifier() ? 'stream' : 'event_type';
  const expr = f.hasStreamIdentifier() ? f.getStreamIdentifier()! : f.getEventType()!;
  const regex = expr.getRegex();
  return { on, prefixes: expr.getPrefixList(), regex: regex === '' ? undefined : regex };
}

function eventResponse(event: StoredEvent, structuredIds: boolean): ReadResp {
  const position = String(event.position);
  const recorded = new streamsPb.ReadResp.ReadEvent.RecordedEvent()
    .setId(uuidMessage(event.id, structuredIds))
    .setStreamIdentifier(identifier(event.stream))
    .setStreamRevision(String(event.revision))
    .setCommitPosition(position)
    .setPreparePosition(position)
    .setData(event.data)
    .setCustomMetadata(event.customMetadata);
  recorded.getMetadataMap().set('type', event.type).set('content-type', event.contentType).set('created', String(event.created));
  const read = new streamsPb.ReadResp.ReadEvent().setEvent(recorded).setCommitPosition(position);
  return new streamsPb.ReadResp().setEvent(read);
}

// ---- appends ----------------------------------------------------------------------------------

function handleAppend(
  call: grpc.ServerReadableStream<AppendReq, AppendResp>,
  callback: grpc.sendUnaryData<AppendResp>,
  db: Database,
  faults: Faults,
  cutter: ConnectionCutter,
): void {
  let options: InstanceType<typeof streamsPb.AppendReq.Options> | undefined;
  const proposed: ProposedEvent[] = [];
  call.on('data', (req: AppendReq) => {
    if (req.hasOptions()) options = req.getOptions();
    else if (req.hasProposedMessage()) proposed.push(proposedEvent(req.getProposedMessage()!));
  });
  call.on('error', () => undefined);
  call.on('end', () => {
    if (!options) return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'Append needs options first' });
    const stream = streamName(options.getStreamIdentifier());
    const expected = expectedOf(options);
    void faults
      .around('append', () => db.append(stream, expected, proposed), () => call.cancelled)
      .then((outcome) => {
        if (!outcome) return;
        if (outcome.kind === 'success' && faults.takeDropAfterCommit()) return cutter.dropAll();
        switch (outcome.kind) {
          case 'success': {
            const success = new streamsPb.AppendResp.Success().setCurrentRevision(String(outcome.currentRevision));
            if (outcome.position === null) success.setNoPosition(new sharedPb.Empty());
            else {
              const p = String(outcome.position);
              success.setPosition(new streamsPb.AppendResp.Position().setCommitPosition(p).setPreparePosition(p));
            }
            return callback(null, new streamsPb.AppendResp().setSuccess(success));
          }
          case 'wrong_expected_version': {
            const wev = new streamsPb.AppendResp.WrongExpectedVersion();
            if (outcome.currentRevision === null) wev.setCurrentNoStream(new sharedPb.Empty());
            else wev.setCurrentRevision(String(outcome.currentRevision));
            const e = outcome.expected;
            if (e.kind === 'revision') wev.setExpectedRevision(String(e.revision));
            else if (e.kind === 'no_stream') wev.setExpectedNoStream(new sharedPb.Empty());
            else if (e.kind === 'stream_exists') wev.setExpectedStreamExists(new sharedPb.Empty());
            else wev.setExpectedAny(new sharedPb.Empty());
            return callback(null, new streamsPb.AppendResp().setWrongExpectedVersion(wev));
          }
          case 'stream_deleted':
            return callback(streamDeletedError(stream));
          case 'too_big':
            return callback(
              serviceError(grpc.status.INVALID_ARGUMENT, `Maximum Append Size of ${outcome.maxAppendSize} Exceeded.`, {
                exception: 'maximum-append-size-exceeded',
                'maximum-append-size': String(outcome.maxAppendSize),
              }),
            );
        }
      });
  });
}

function handleBatchAppend(
  call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>,
  db: Database,
  faults: Faults,
  cutter: ConnectionCutter,
): void {
  const pending = new Map<string, { options?: InstanceType<typeof streamsPb.BatchAppendReq.Options>; events: ProposedEvent[] }>();
  call.on('error', () => undefined);
  call.on('end', () => call.end());
  call.on('data', (req: BatchAppendReq) => {
    const correlation = uuidString(req.getCorrelationId());
    const entry = pending.get(correlation) ?? { events: [] };
    pending.set(correlation, entry);
    if (req.hasOptions()) entry.options = req.getOptions();
    for (const m of req.getProposedMessagesList()) entry.events.push(proposedEvent(m));
    if (!req.getIsFinal()) return;
    pending.delete(correlation);
    const options = entry.options!;
    const stream = streamName(options.getStreamIdentifier());
    const expected: ExpectedRevision = options.hasStreamPosition()
      ? { kind: 'revision', revision: BigInt(options.getStreamPosition()) }
      : options.hasNoStream()
        ? { kind: 'no_stream' }
        : options.hasStreamExists()
          ? { kind: 'stream_exists' }
          : { kind: 'any' };
    const deadline = deadlineOf(options, Date.now());
    const response = new streamsPb.BatchAppendResp().setCorrelationId(req.getCorrelationId()).setStreamIdentifier(identifier(stream));
    if (expected.kind === 'revision') response.setStreamPosition(String(expected.revision));
    else if (expected.kind === 'no_stream') response.setNoStream(new GoogleEmpty() as never);
    else if (expected.kind === 'stream_exists') response.setStreamExists(new GoogleEmpty() as never);
    else response.setAny(new GoogleEmpty() as never);

    void faults
      .around(
        'append',
        () => (Date.now() > deadline ? ({ kind: 'timeout' } as const) : db.append(stream, expected, entry.events)),
        () => call.cancelled,
      )
      .then((outcome) => {
        if (!outcome) return;
        if (outcome.kind === 'success' && faults.takeDropAfterCommit()) return cutter.dropAll();
        // An answer that comes after the deadline is a timeout, even when the write went through.
        if (outcome.kind === 'timeout' || Date.now() > deadline) {
          call.write(response.setError(rpcStatus(RpcCode.DEADLINE_EXCEEDED, 'Timeout', 'Timeout', new sharedPb.Timeout())));
          return;
        }
        call.write(batchOutcome(response, outcome));
      });
  });
}

/** The deadline fields a BatchAppend's options may carry, in either client's generated classes. */
interface DeadlineFields {
  hasDeadline21100?(): boolean;
  getDeadline21100?(): { toDate(): Date } | undefined;
  hasDeadline(): boolean;
  getDeadline(): { toDate?(): Date; getSeconds?(): number; getNanos?(): number } | undefined;
}

/**
 * The deadline of one BatchAppend request, in milliseconds since the epoch (infinite without one).
 * The protocol has carried it in two fields, and a real server honours both: `deadline_21_10_0`, an
 * absolute timestamp (what `@kurrent/kurrentdb-client` sends; `@eventstore/db-client`'s older
 * generated code calls the same field `deadline`), and `deadline`, a duration from receipt in the
 * newer protocol.
 */
function deadlineOf(options: unknown, receivedAt: number): number {
  const o = options as DeadlineFields;
  if (o.hasDeadline21100?.()) return o.getDeadline21100!()!.toDate().getTime();
  if (!o.hasDeadline()) return Number.POSITIVE_INFINITY;
  const d = o.getDeadline()!;
  if (d.toDate) return d.toDate().getTime();
  return receivedAt + (d.getSeconds?.() ?? 0) * 1000 + (d.getNanos?.() ?? 0) / 1e6;
}

function batchOutcome(response: BatchAppendResp, outcome: AppendOutcome): BatchAppendResp {
  switch (outcome.kind) {
    case 'success': {
      const success = new streamsPb.BatchAppendResp.Success().setCurrentRevision(String(outcome.currentRevision));
      if (outcome.position === null) success.setNoPosition(new GoogleEmpty() as never);
      else {
        const p = String(outcome.position);
        success.setPosition(new sharedPb.AllStreamPosition().setCommitPosition(p).setPreparePosition(p));
      }
      return response.setSuccess(success);
    }
    case 'wrong_expected_version': {
      const wev = new sharedPb.WrongExpectedVersion();
      if (outcome.currentRevision === null) wev.setCurrentNoStream(new GoogleEmpty() as never);
      else wev.setCurrentStreamRevision(String(outcome.currentRevision));
      const e = outcome.expected;
      if (e.kind === 'revision') wev.setExpectedStreamPosition(String(e.revision));
      else if (e.kind === 'no_stream') wev.setExpectedNoStream(new GoogleEmpty() as never);
      else if (e.kind === 'stream_exists') wev.setExpectedStreamExists(new GoogleEmpty() as never);
      else wev.setExpectedAny(new GoogleEmpty() as never);
      return response.setError(rpcStatus(RpcCode.FAILED_PRECONDITION, 'WrongExpectedVersion', 'WrongExpectedVersion', wev));
    }
    case 'stream_deleted': {
      const deleted = new sharedPb.StreamDeleted().setStreamIdentifier(response.getStreamIdentifier());
      return response.setError(rpcStatus(RpcCode.FAILED_PRECONDITION, 'Stream Deleted', 'StreamDeleted', deleted));
    }
    case 'too_big': {
      const detail = new sharedPb.MaximumAppendSizeExceeded().setMaxappendsize(outcome.maxAppendSize);
      return response.setError(
        rpcStatus(RpcCode.INVALID_ARGUMENT, `Maximum Append Size of ${outcome.maxAppendSize} Exceeded.`, 'MaximumAppendSizeExceeded', detail),
      );
    }
  }
}

function rpcStatus(code: number, message: string, detailName: string, detail: { serializeBinary(): Uint8Array }) {
  const any = new GoogleAny();
  any.pack(detail.serializeBinary(), `event_store.client.${detailName}`);
  return new statusPb.Status().setCode(code).setMessage(message).setDetails(any as never);
}

// ---- helpers ----------------------------------------------------------------------------------

interface ExpectedOptions {
  hasRevision(): boolean;
  getRevision(): string;
  hasNoStream(): boolean;
  hasStreamExists(): boolean;
}

function expectedOf(o: ExpectedOptions): ExpectedRevision {
  if (o.hasRevision()) return { kind: 'revision', revision: BigInt(o.getRevision()) };
  if (o.hasNoStream()) return { kind: 'no_stream' };
  if (o.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

function proposedEvent(m: {
  getId(): UUIDMessage | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData_asU8(): Uint8Array;
  getCustomMetadata_asU8(): Uint8Array;
}): ProposedEvent {
  const metadata = m.getMetadataMap();
  return {
    id: uuidString(m.getId()),
    type: metadata.get('type') ?? '',
    contentType: metadata.get('content-type') ?? 'application/octet-stream',
    data: m.getData_asU8(),
    customMetadata: m.getCustomMetadata_asU8(),
  };
}

function streamName(id: StreamIdentifier | undefined): string {
  return Buffer.from(id?.getStreamName_asU8() ?? new Uint8Array()).toString('utf8');
}

function identifier(stream: string): StreamIdentifier {
  return new sharedPb.StreamIdentifier().setStreamName(Uint8Array.from(Buffer.from(stream, 'utf8')));
}

function uuidString(uuid: UUIDMessage | undefined): string {
  if (!uuid) return '';
  if (uuid.hasStructured()) {
    const s = uuid.getStructured()!;
    const buffer = Buffer.alloc(16);
    buffer.writeBigInt64BE(BigInt(s.getMostSignificantBits()), 0);
    buffer.writeBigInt64BE(BigInt(s.getLeastSignificantBits()), 8);
    const hex = buffer.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return uuid.getString().toLowerCase();
}

function uuidMessage(id: string, structured = false): UUIDMessage {
  const uuid = new sharedPb.UUID();
  if (!structured) return uuid.setString(id);
  const buffer = Buffer.from(id.replaceAll('-', ''), 'hex');
  return uuid.setStructured(
    new sharedPb.UUID.Structured()
      .setMostSignificantBits(String(buffer.readBigInt64BE(0)))
      .setLeastSignificantBits(String(buffer.readBigInt64BE(8))),
  );
}

function serviceError(code: grpc.status, details: string, metadata: Record<string, string>): grpc.ServiceError {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata: md });
}

function streamDeletedError(stream: string): grpc.ServiceError {
  return serviceError(grpc.status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, {
    exception: 'stream-deleted',
    'stream-name': stream,
  });
}

function deleteError(stream: string, outcome: Exclude<DeleteOutcome, { kind: 'success' }>): grpc.ServiceError {
  if (outcome.kind === 'stream_deleted') return streamDeletedError(stream);
  const e = outcome.expected;
  const expected = e.kind === 'revision' ? String(e.revision) : e.kind === 'no_stream' ? '-1' : e.kind === 'stream_exists' ? '-4' : '-2';
  return serviceError(grpc.status.FAILED_PRECONDITION, `Wrong expected version on '${stream}'.`, {
    exception: 'wrong-expected-version',
    'stream-name': stream,
    'expected-version': expected,
    ...(outcome.currentRevision !== null && { 'actual-version': String(outcome.currentRevision) }),
  });
}

function failCall(call: grpc.ServerWritableStream<unknown, unknown>, error: unknown) {
  if (call.cancelled) return;
  call.emit('error', { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) });
}

function hostAndPort(host: string): [string, number] {
  const at = host.lastIndexOf(':');
  return at < 0 ? [host, 2113] : [host.slice(0, at), Number(host.slice(at + 1))];
}
