/**
 * `subscribeToAll` over an EventStoreDB catch-up subscription to `$all`.
 *
 * - The server filters (by event type or stream prefix, and drops system events); the adapter
 *   checks every event again with the full Ordo filter.
 * - `covered` is the position up to which every event was delivered or is known not to match. A
 *   dropped subscription is started again after `covered` (positions given to subscriptions are
 *   exclusive), and anything at or before it is skipped: nothing lost, nothing delivered twice.
 * - Being caught up is established by a probe, not taken on trust: read the head of `$all`, scan
 *   from `covered` to the head for an event this subscription would deliver; if there is none, all
 *   of it is covered, `covered` moves to the head and `onCaughtUp(head)` is called. A probe runs
 *   when the server says the subscription turned live (servers since 23.10), when the subscription
 *   has been quiet for a while (older servers), and whenever the delivered events run out.
 * - The server's checkpoints move `covered` without a read: a filtered subscription gets one every
 *   so many events the server examined, matching or not, and one when catch-up ends, and each says
 *   that every event up to it was examined and, if it matched, already sent. So a sparse filter over
 *   a long log needs no client-side scan of what it skips: the probe starts from the last checkpoint.
 * - Positions past the last user event. `$all` keeps growing with system records (and the
 *   adapter's own checkpoint streams) that no reader sees, so `covered` often lies past
 *   `headPosition()`, the last event a reader can see. `onCaughtUp` reports that head, not
 *   `covered`: it is the position `waitFor(headPosition())` waits for, so a runner is caught up
 *   exactly when the last user event is covered and never waits for a position only a system
 *   record holds; and a quiet subscription reports nothing new while only system records arrive,
 *   so an idle projection does not write a checkpoint for each of them (each checkpoint being
 *   another record in `$all`). `covered` itself still moves past them, so that a resubscribe does
 *   not examine them again.
 */
import {
  matchesFilter,
  sleep,
  START,
  type LogFilter,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '@ordo/core';
import {
  clientPosition,
  commitPositionOf,
  type ClientPosition,
  escapeRegex,
  isTransient,
  toRecordedEvent,
  type ClientResolvedEvent,
  type ClientSubscription,
  type LooseClient,
} from './client.js';

/** What a subscription needs from the store. */
export interface SubscriptionContext {
  client: LooseClient;
  /** True for events Ordo readers see: not system events, not the adapter's own hidden streams. */
  visible(event: { streamName: string; type: string }): boolean;
  /** The position of the last event in `$all` that a reader can see (`headPosition()`); {@link START} when none. */
  headPosition(): Promise<bigint>;
  /** Wraps errors the subscription gives up on. */
  toError(error: unknown): unknown;
  settings: SubscriptionSettings;
}

/** How a subscription behaves when the server is slow, quiet or gone. */
export interface SubscriptionSettings {
  /**
   * Probe for being caught up after this long without a message from the server. While it stays
   * quiet, the wait doubles up to `maxIdleProbeMs`. A server filter hides the events that do not
   * match, so this is how the subscription learns that the head moved past them. Default 50 ms.
   */
  idleProbeMs: number;
  /** Longest wait between probes of a quiet subscription. Default 5 s. */
  maxIdleProbeMs: number;
  /** Subscribe again after a drop at most this many times in a row. Default 10. */
  maxResubscribes: number;
  /** Backoff before subscribing again: doubles from this, up to 2 s. Default 50 ms. */
  resubscribeDelayMs: number;
}

/** The settings a subscription uses unless told otherwise. */
export const DEFAULT_SUBSCRIPTION_SETTINGS: SubscriptionSettings = {
  idleProbeMs: 50,
  maxIdleProbeMs: 5000,
  maxResubscribes: 10,
  resubscribeDelayMs: 50,
};

/** Events per read of a probe: small, as a probe usually stops at the first event for the subscription. */
const PROBE_PAGE = 64;
/** Pause after the last delivered event before probing for being caught up. */
const SETTLE_MS = 5;
const HIGH_WATER = 1000;
const LOW_WATER = 100;

/** The server-side filter for an Ordo filter: event types if given, else stream prefixes, else "no system events". */
export function serverFilter(filter: LogFilter | undefined): Record<string, unknown> {
  if (filter?.eventTypes && filter.eventTypes.length > 0) {
    return { filterOn: 'eventType', regex: `^(?:${filter.eventTypes.map(escapeRegex).join('|')})$`, checkpointInterval: 1 };
  }
  if (filter?.streamPrefixes && filter.streamPrefixes.length > 0) {
    return { filterOn: 'streamName', prefixes: [...filter.streamPrefixes], checkpointInterval: 1 };
  }
  return { filterOn: 'eventType', regex: '^[^$]', checkpointInterval: 1 };
}

type Item =
  | { kind: 'event'; resolved: ClientResolvedEvent }
  | { kind: 'checkpoint'; position: bigint }
  | { kind: 'caughtUp' }
  | { kind: 'error'; error: unknown }
  | { kind: 'end' };

/** Buffers what a client subscription emits, pausing it when the buffer is full. */
class Inbox {
  private readonly items: Item[] = [];
  private wake: (() => void) | undefined;
  private paused = false;

  constructor(private readonly source: ClientSubscription) {
    source.on('data', (resolved: ClientResolvedEvent) => {
      this.push({ kind: 'event', resolved });
      if (this.items.length >= HIGH_WATER && !this.paused) {
        this.paused = true;
        source.pause();
      }
    });
    source.on('caughtUp', () => this.push({ kind: 'caughtUp' }));
    source.on('error', (error: unknown) => this.push({ kind: 'error', error }));
    source.on('end', () => this.push({ kind: 'end' }));
    source.on('close', () => this.push({ kind: 'end' }));
  }

  private push(item: Item) {
    this.items.push(item);
    this.wake?.();
  }

  /**
   * Queues a server checkpoint behind every event the server sent before it. The client calls back
   * for a checkpoint as soon as it reads it, possibly while events before it still sit in its
   * buffer (a paused inbox), so this waits until they have been handed over: a checkpoint must
   * never overtake an event, or `covered` would skip that event.
   */
  async checkpoint(position: bigint): Promise<void> {
    await this.handedOver();
    this.push({ kind: 'checkpoint', position });
  }

  private handedOver(): Promise<void> {
    // Both clients' subscriptions are Node streams; the client interface only declares `on`.
    const source = this.source as ClientSubscription & Pick<NodeJS.EventEmitter, 'off'>;
    if (!((source.readableLength ?? 0) > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if ((source.readableLength ?? 0) > 0) return;
        source.off('data', check);
        source.off('close', done);
        resolve();
      };
      const done = () => {
        source.off('data', check);
        resolve();
      };
      source.on('data', check);
      source.on('close', done);
    });
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  /** The next item; `idle` when nothing came for `idleMs`; `aborted` when `signal` aborts. */
  async next(signal: AbortSignal, idleMs: number): Promise<Item | { kind: 'idle' } | { kind: 'aborted' }> {
    if (this.items.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, idleMs);
        const onAbort = () => done();
        signal.addEventListener('abort', onAbort, { once: true });
        this.wake = done;
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve();
        }
      });
      this.wake = undefined;
    }
    if (signal.aborted) return { kind: 'aborted' };
    const item = this.items.shift();
    if (this.paused && this.items.length <= LOW_WATER) {
      this.paused = false;
      this.source.resume();
    }
    return item ?? { kind: 'idle' };
  }
}

/** Thrown inside the loop when `onEvent` or `onCaughtUp` failed: the subscription stops with that error. */
class HandlerFailed {
  constructor(readonly error: unknown) {}
}

/** Starts a catch-up-then-live subscription to `$all` (see the module comment). */
export function subscribeToAll(context: SubscriptionContext, options: SubscribeOptions): Subscription {
  const subscription = new AllSubscription(context, options);
  const done = subscription.run().then(
    () => undefined,
    (error: unknown) => {
      subscription.abort.abort();
      options.onError?.(error);
    },
  );
  return {
    done,
    async stop() {
      subscription.abort.abort();
      void subscription.source?.unsubscribe().catch(() => undefined);
      await done;
    },
  };
}

/** One subscription's state: how far the log is covered, and what was reported. */
class AllSubscription {
  readonly abort = new AbortController();
  /** The client subscription being read, while there is one. */
  source: ClientSubscription | undefined;
  private readonly start: bigint;
  /** Every event up to here was delivered or known not to be for us. */
  private covered: bigint;
  /** Whether the server's caught-up notice (or a first quiet probe) came. */
  private noticed = false;
  private reported: bigint | undefined;

  constructor(
    private readonly context: SubscriptionContext,
    private readonly options: SubscribeOptions,
  ) {
    this.start = options.after ?? START;
    this.covered = this.start;
  }

  private wanted(event: RecordedEvent | { streamName: string; type: string }): boolean {
    return this.context.visible(event) && matchesFilter(event, this.options.filter);
  }

  /** Resubscribes after transient failures, from where delivery got to, until stopped. */
  async run(): Promise<void> {
    const { settings } = this.context;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const before = this.covered;
      try {
        await this.runOnce();
        return;
      } catch (error) {
        if (error instanceof HandlerFailed) throw error.error;
        if (this.abort.signal.aborted) return;
        if (!isTransient(error)) throw this.context.toError(error);
        failures = this.covered > before ? 1 : failures + 1;
        if (failures > settings.maxResubscribes) throw this.context.toError(error);
        this.options.onReadRetry?.(error);
        await sleep(Math.min(2000, settings.resubscribeDelayMs * 2 ** (failures - 1)), this.abort.signal);
      }
    }
  }

  /**
   * Scans `(covered, head]` (the head a reader sees); moves `covered` to the head if nothing in it
   * is for us, and reports being caught up at the head (a quiet probe reports only progress).
   */
  private async probe(quiet = false): Promise<void> {
    const head = await this.context.headPosition();
    if (head > this.covered && !(await this.nothingFor(head))) return;
    if (head > this.covered) this.covered = head;
    this.report(quiet, head);
  }

  /**
   * True when `(covered, head]` holds no event this subscription would deliver; false when it holds
   * one (still on its way to us) or the subscription stopped meanwhile.
   */
  private async nothingFor(head: bigint): Promise<boolean> {
    let from = this.covered;
    for (;;) {
      let count = 0;
      let last = from;
      let pending = false;
      let beyond = false;
      // Each page is read to its end: a read left half-consumed would keep its call open.
      const page = this.context.client.readAll({ fromPosition: clientPosition(from), maxCount: PROBE_PAGE, filter: serverFilter(this.options.filter) });
      for await (const resolved of page) {
        count++;
        const position = commitPositionOf(resolved);
        const e = resolved.event;
        if (pending || position === undefined || !e || position <= from) continue;
        if (position > head) beyond = true;
        else if (this.wanted({ streamName: e.streamId, type: e.type })) pending = true; // on its way to us
        else last = position;
      }
      if (pending || this.abort.signal.aborted) return false;
      if (beyond || last >= head || last <= from || count < PROBE_PAGE) return true;
      from = last;
    }
  }

  /**
   * Calls `onCaughtUp` with the reader's head (see the module comment), never less than where the
   * subscription started, never more than `covered`; a quiet report that would repeat the last one
   * is left out.
   */
  private report(quiet: boolean, head: bigint): void {
    const at = head < this.covered ? (head > this.start ? head : this.start) : this.covered;
    if (this.abort.signal.aborted || (quiet && this.reported === at)) return;
    this.reported = at;
    try {
      this.options.onCaughtUp?.(at);
    } catch (error) {
      throw new HandlerFailed(error);
    }
  }

  /**
   * A server checkpoint: every event up to `position` was examined, and sent if it matched the
   * server filter, so it is covered without reading it. The next probe starts from there.
   */
  private checkpointed(position: bigint): void {
    if (position > this.covered) this.covered = position;
  }

  private async deliver(resolved: ClientResolvedEvent): Promise<void> {
    const position = commitPositionOf(resolved);
    if (position === undefined || position <= this.covered) return;
    const event = toRecordedEvent(resolved);
    if (event && this.wanted(event)) {
      try {
        await this.options.onEvent(event);
      } catch (error) {
        throw new HandlerFailed(error);
      }
    }
    this.covered = position;
  }

  /** One client subscription, read until it fails, ends or the subscription is stopped. */
  private async runOnce(): Promise<void> {
    let inbox: Inbox | undefined;
    const subscription = this.context.client.subscribeToAll({
      fromPosition: clientPosition(this.covered),
      filter: { ...serverFilter(this.options.filter), checkpointReached: (_: unknown, at: ClientPosition) => inbox?.checkpoint(at.commit) },
    });
    this.source = subscription;
    inbox = new Inbox(subscription);
    try {
      await this.drain(inbox);
    } finally {
      this.source = undefined;
      void subscription.unsubscribe().catch(() => undefined);
    }
  }

  /** Handles what the client subscription sends; probes the log when live and quiet. */
  private async drain(inbox: Inbox): Promise<void> {
    const { settings } = this.context;
    let quietFor = settings.idleProbeMs;
    let probeDue = false;
    for (;;) {
      // Once live, delivered events that run out call for a probe, after a short pause so that a
      // burst of events costs one probe rather than one each.
      const item = await inbox.next(this.abort.signal, probeDue ? SETTLE_MS : quietFor);
      if (item.kind !== 'idle') quietFor = settings.idleProbeMs;
      switch (item.kind) {
        case 'aborted':
          return;
        case 'event':
          await this.deliver(item.resolved);
          if (this.noticed) probeDue = true;
          break;
        case 'checkpoint':
          this.checkpointed(item.position);
          break;
        case 'caughtUp':
          this.noticed = true;
          probeDue = false;
          await this.probe();
          break;
        case 'idle':
          if (probeDue) {
            probeDue = false;
            await this.probe();
            break;
          }
          // Quiet: events the server filter hid may have moved the head, and servers before
          // 23.10 send no caught-up notice. Find out, less often the longer it stays quiet.
          await this.probe(this.noticed);
          this.noticed = true;
          quietFor = Math.min(settings.maxIdleProbeMs, quietFor * 2);
          break;
        case 'error':
          throw item.error;
        case 'end':
          if (this.abort.signal.aborted) return;
          throw Object.assign(new Error('The subscription ended'), { type: 'unavailable' });
      }
      if (this.abort.signal.aborted) return;
    }
  }
}
