import type { RecordedEvent } from '@ordo/core';
import { withEventStore, type EventStoreOptions } from '../event-store-connection.js';
import { auditEntry, compact } from './stream.js';

/** Options of `ordo tail`. */
export interface TailOptions extends EventStoreOptions {
  /** An event type, or a stream name prefix. */
  filter?: string;
  json?: boolean;
}

/** Whether `event` passes `--filter`: its type is the filter, or its stream name starts with it. */
export function passes(event: RecordedEvent, filter: string | undefined): boolean {
  return filter === undefined || event.type === filter || event.streamName.startsWith(filter);
}

/** `ordo tail`: follows the global log from its head, one line per event, until SIGINT. */
export async function tail(options: TailOptions): Promise<void> {
  await withEventStore(options, async (store) => {
    const head = await store.headPosition();
    await new Promise<void>((resolve, reject) => {
      const subscription = store.subscribeToAll({
        after: head,
        onEvent(event) {
          if (!passes(event, options.filter)) return;
          const e = auditEntry(event);
          const line = options.json
            ? JSON.stringify({ position: String(e.position), stream: event.streamName, version: String(e.version), type: e.type, at: e.at, who: e.who, data: e.data })
            : `${e.position}  ${e.at}  ${event.streamName}@${e.version}  ${e.type}  ${e.who}  ${compact(e.data)}`;
          process.stdout.write(`${line}\n`);
        },
        onError: (error) => void subscription.stop().finally(() => reject(error)),
      });
      process.stderr.write(`Following the log after position ${head}${options.filter ? ` (filter: ${options.filter})` : ''}; Ctrl-C stops.\n`);
      process.once('SIGINT', () => void subscription.stop().then(resolve, reject));
    });
  });
}
