/** A subscriber for tests: records what it receives and what fails, and can wait until it goes idle. */
import { START, type EventStore, type RecordedEvent } from '@ordo/core';
import { waitUntil } from './wait.js';

export function recordingSubscription(store: EventStore) {
  const received: RecordedEvent[] = [];
  const errors: unknown[] = [];
  let caughtUp = 0;
  const subscription = store.subscribeToAll({
    after: START,
    onEvent: (e) => {
      received.push(e);
    },
    onCaughtUp: () => {
      caughtUp++;
    },
    onError: (e) => {
      errors.push(e);
    },
  });
  return {
    subscription,
    received,
    errors,
    /** Resolves after two more empty reads: at least one of them started after this call. */
    async idleTwice() {
      const seen = caughtUp;
      await waitUntil(() => caughtUp >= seen + 2, 'the subscription to read and find nothing new, twice');
    },
  };
}
