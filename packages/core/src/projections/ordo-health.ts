import type { EventStore } from '../store/event-store.js';
import { assessHealth, type Health, type HasStatus, type HealthOptions, type HealthVerdict } from './health.js';
import type { ReactorStatus } from './reactor.js';

/** A reactor as {@link ordoHealth} sees it: its own status and the runner that reads the log for it. */
export interface ReactorLike {
  readonly name: string;
  status(): ReactorStatus;
  readonly runner: HasStatus;
}

/** What {@link ordoHealth} looks at. Every part is optional; give what the service runs. */
export interface OrdoHealthOptions extends HealthOptions {
  /** Projection runners (anything with `status()`). */
  runners?: readonly HasStatus[];
  /** Reactors: judged by the runner that reads the log for them. */
  reactors?: readonly ReactorLike[];
  /** When given, `store.headPosition()` is asked, with `storeTimeoutMs`: a store that fails or is silent is `failing`. */
  store?: Pick<EventStore, 'headPosition'>;
  /** How long the store ping may take. Default 2000 ms. */
  storeTimeoutMs?: number;
}

/** The store ping's outcome. */
export interface StorePing {
  ok: boolean;
  /** The head of the log, when the store answered. */
  head?: bigint;
  /** How long the answer took (or how long was waited). */
  ms: number;
  /** Why the ping failed. */
  error?: string;
}

/** What {@link ordoHealth} returns: the verdict over everything, its reasons, and the parts. */
export interface OrdoHealth extends Health {
  /** Each reactor's own status (its runner's status is among `projections`). */
  reactors: ReactorStatus[];
  /** The store ping, when a store was given. */
  store?: StorePing;
}

/**
 * One verdict for a readiness probe over the service's derived side and its store: `failing` when a
 * runner or reactor is stopped or keeps failing, or the store does not answer `headPosition()` within
 * `storeTimeoutMs`; `degraded` when one is catching up, retrying or behind (see {@link assessHealth});
 * else `ready`. Never throws: a failure of the ping is a reason, not an exception.
 *
 * @example
 * app.get('/ready', async (_req, res) => {
 *   const h = await ordoHealth({ runners: [readModels.orderNumbers], reactors: [dispatcher], store });
 *   res.status(h.status === 'failing' ? 503 : 200).json({ status: h.status, reasons: h.reasons });
 * });
 */
export async function ordoHealth(options: OrdoHealthOptions): Promise<OrdoHealth> {
  const reactors = options.reactors ?? [];
  const statuses = [...(options.runners ?? []), ...reactors.map((r) => r.runner)].map((r) => r.status());
  const verdict = assessHealth(statuses, options);
  const result: OrdoHealth = { ...verdict, reactors: reactors.map((r) => r.status()) };
  if (options.store) {
    const ping = await pingStore(options.store, options.storeTimeoutMs ?? 2000);
    result.store = ping;
    if (!ping.ok) {
      result.status = 'failing' satisfies HealthVerdict;
      result.reasons = [...result.reasons, `store: ${ping.error}`];
    }
  }
  return result;
}

/** Asks the store for its head, giving up after `timeoutMs`. */
async function pingStore(store: Pick<EventStore, 'headPosition'>, timeoutMs: number): Promise<StorePing> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const head = await Promise.race([store.headPosition(), silence]);
    return { ok: true, head, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, ms: Date.now() - started, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
