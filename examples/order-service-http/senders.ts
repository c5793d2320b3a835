/**
 * Notification senders for the example: the console, or a file of JSON lines. A real service
 * passes its e-mail and SMS providers here, with `idempotencyKey` as the provider's own key.
 */
import { appendFile } from 'node:fs/promises';
import type { Sender } from '@ordo/orders';

/** Prints one line per notification. */
export function consoleSender(log: (line: string) => void = console.log): Sender {
  return {
    async send(notification, { idempotencyKey, attempt }) {
      log(`notify ${notification.channel} ${notification.recipient}: ${notification.template} (key ${idempotencyKey}, attempt ${attempt})`);
    },
  };
}

/** Appends one JSON line per notification to `path`. */
export function fileSender(path: string): Sender {
  return {
    async send(notification, { idempotencyKey, attempt }) {
      await appendFile(path, JSON.stringify({ ...notification, idempotencyKey, attempt, sentAt: new Date().toISOString() }) + '\n');
    },
  };
}
