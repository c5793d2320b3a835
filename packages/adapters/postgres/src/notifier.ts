import type pg from 'pg';
import { dedicatedClient } from './connection.js';

/** How long the notifying connection stays open without a notification to send. */
const IDLE_CLOSE_MS = 60_000;

/**
 * Sends the store's notifications on a connection of its own, opened when the first is due and
 * closed after a minute without one. Not through the pool: a busy service queues hundreds of
 * statements there, and a notification waiting behind them would leave subscribers in other
 * processes asleep for as long as the queue lasts (a burst of checkouts: its whole length). If
 * that connection cannot be had, the notification goes through the pool after all.
 */
export class Notifier {
  private client: Promise<pg.Client | undefined> | undefined;
  private idle: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  /** A notifier for `pool`'s database (nothing is connected until {@link send}). */
  constructor(private readonly pool: pg.Pool) {}

  /** Runs the notification `statement`; never throws (a lost notification is covered by polling). */
  async send(statement: { name: string; text: string }): Promise<void> {
    const client = this.closed ? undefined : await this.connection();
    if (client) {
      try {
        await client.query(statement);
        this.closeWhenIdle();
        return;
      } catch {
        this.drop(client);
      }
    }
    await this.pool.query(statement).catch(() => undefined);
  }

  /** Closes the connection; later notifications go through the pool. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idle);
    const client = await this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client | undefined> {
    this.client ??= (async () => {
      const client = dedicatedClient(this.pool);
      // A connection the server closes while idle must not crash the process: drop it, open anew.
      client.on('error', () => this.drop(client));
      try {
        await client.connect();
        return client;
      } catch {
        this.drop(client);
        return undefined;
      }
    })();
    return this.client;
  }

  private drop(client: pg.Client) {
    void this.client?.then((current) => {
      if (current === client || current === undefined) this.client = undefined;
    });
    void client.end().catch(() => undefined);
  }

  private closeWhenIdle() {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      const client = this.client;
      this.client = undefined;
      void client?.then((c) => c?.end().catch(() => undefined));
    }, IDLE_CLOSE_MS);
    this.idle.unref?.();
  }
}
