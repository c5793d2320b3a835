import type pg from 'pg';
import { Notifier } from './notifier.js';
import { listenClient, statementNamed } from './pooler.js';
import type { SchemaNames } from './schema.js';

/** What the wake-ups need from their store. */
export interface WakeUpOptions {
  pool: pg.Pool;
  names: SchemaNames;
  /** How long an idle subscription waits before it looks on its own (the polling fallback). */
  pollIntervalMs: number;
  /** Least time between two notifications; appends within it share the next one (0: none). */
  notifyIntervalMs: number;
  /** True once the store is closed: nothing more is sent or listened for. */
  closed(): boolean;
  /** True while live subscriptions run, which need the LISTEN connection. */
  listening(): boolean;
  /** False behind a transaction-mode pooler without a direct connection: subscriptions poll only. */
  listens: boolean;
  /** A direct connection for LISTEN (behind a pooler); default: a client of the pool's settings. */
  listenConnectionString: string | undefined;
  /** Whether statements may be prepared under a name (not behind a pooler). */
  preparedStatements: boolean;
}

/**
 * How live subscriptions learn of new events: a NOTIFY after each committed append (to every
 * process), one LISTEN connection per store while subscriptions run, and polling as the fallback.
 * Every notification (and every (re)connect of the listener) bumps a counter that waiters compare.
 */
export class WakeUps {
  private count = 0;
  private readonly wakers = new Set<() => void>();
  private notifying: 'idle' | 'sending' | 'again' = 'idle';
  private sent: Promise<void> = Promise.resolve();
  private endPause: (() => void) | undefined;
  private listener: pg.Client | undefined;
  private listenerStarting: Promise<void> | undefined;
  private listenerRetry: ReturnType<typeof setTimeout> | undefined;
  private readonly notify: { name: string; text: string };
  private readonly notifier: Notifier;

  /** Wake-ups for one store (nothing is connected until {@link ensureListener}). */
  constructor(private readonly options: WakeUpOptions) {
    this.notifier = new Notifier(options.pool);
    this.notify = statementNamed(
      { name: `ordo_notify_${options.names.statementKey}`, text: `select pg_notify('${options.names.channel}', '')` },
      options.preparedStatements,
    );
  }

  /** The number of wake-ups so far: a waiter remembers it before it reads. */
  get seen(): number {
    return this.count;
  }

  /**
   * Tells listeners (in every process) that an append committed. Sent after the commit, from
   * outside the appending transaction: a NOTIFY inside it would hold PostgreSQL's database-wide
   * notification lock through the commit's flush, so appends would commit one at a time.
   * Coalesced: the first append after a quiet spell is notified at once; appends while a
   * notification is on its way, or within `notifyIntervalMs` after it, share one more, sent when
   * that time is up. So every commit is followed by a notification that starts after it, at most
   * about `notifyIntervalMs` later, and a busy store sends a bounded number (a NOTIFY costs the
   * server about as much as a third of an append).
   */
  appended(): void {
    this.wake();
    if (this.options.closed()) return;
    if (this.notifying !== 'idle') {
      this.notifying = 'again';
      return;
    }
    this.notifying = 'sending';
    this.sent = this.sendNotifications();
  }

  /** Sends a notification, and one more after each pause in which appends asked for it. */
  private async sendNotifications(): Promise<void> {
    for (;;) {
      await this.notifier.send(this.notify);
      if (this.options.notifyIntervalMs > 0 && !this.options.closed()) await this.pause();
      if (this.notifying !== 'again') break;
      this.notifying = 'sending';
    }
    this.notifying = 'idle';
  }

  /** Waits `notifyIntervalMs`, or less when the store closes (see {@link flushNotifications}). */
  private pause(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.endPause = undefined;
        resolve();
      }, this.options.notifyIntervalMs);
      this.endPause = () => {
        clearTimeout(timer);
        this.endPause = undefined;
        resolve();
      };
    });
  }

  /** Sends the notification that waits out its interval now, resolves when all are sent, and closes the notifying connection (on close). */
  async flushNotifications(): Promise<void> {
    this.endPause?.();
    await this.sent;
    await this.notifier.close();
  }

  /** Wakes every waiter in this process. */
  wake(): void {
    this.count++;
    for (const wake of [...this.wakers]) wake();
  }

  /** Resolves on a wake-up newer than `seen`, after the poll interval, or on abort. */
  waitForWake(seen: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted || this.count !== seen) return resolve();
      const timer = setTimeout(done, this.options.pollIntervalMs);
      const wakers = this.wakers;
      function done() {
        clearTimeout(timer);
        wakers.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      }
      wakers.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Opens the LISTEN connection unless it is open or opening; reconnects while subscriptions need it. */
  ensureListener(): void {
    if (!this.options.listens || this.listener || this.listenerStarting || this.options.closed()) return;
    const client = listenClient(this.options.pool, this.options.listenConnectionString);
    this.listener = client;
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      // Subscriptions poll meanwhile; wake them so none sleeps on a dead connection.
      this.wake();
      if (!this.options.closed() && this.options.listening() && !this.listenerRetry) {
        this.listenerRetry = setTimeout(() => {
          this.listenerRetry = undefined;
          if (!this.options.closed() && this.options.listening()) this.ensureListener();
        }, this.options.pollIntervalMs);
      }
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === this.options.names.channel) this.wake();
    });
    this.listenerStarting = (async () => {
      try {
        await client.connect();
        await client.query(`listen "${this.options.names.channel}"`);
        // Whatever committed before LISTEN took effect is found by the read this triggers.
        this.wake();
      } catch {
        lost();
      } finally {
        this.listenerStarting = undefined;
      }
    })();
  }

  /** Closes the LISTEN connection: on the store's `close()`, or when no subscription needs it any more. */
  async stopListener(onlyIfUnused = false): Promise<void> {
    await this.listenerStarting;
    // A subscription may have started while this waited: it needs the connection.
    if (onlyIfUnused && this.options.listening()) return;
    if (this.listenerRetry) clearTimeout(this.listenerRetry);
    this.listenerRetry = undefined;
    const client = this.listener;
    this.listener = undefined;
    if (!client) return;
    client.removeAllListeners('notification');
    await client.end().catch(() => undefined);
  }
}
