/**
 * The peer: `@event-driven-io/emmett-postgresql`, used the way its documentation shows, through
 * its own event store, command handler and consumer. Emmett counts stream versions from 1, so
 * a stream holding `n` events is at version `n`.
 */
import { CommandHandler, isExpectedVersionConflictError, STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { POOL_SIZE, RETRY, type BenchStore, type CommandOutcome, type CounterEvent } from './types.js';

export async function createEmmettStore(url: string): Promise<BenchStore> {
  // Its own pool through `connectionOptions`, sized like the others' (its default pool has 10).
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
  await store.schema.migrate();

  type State = { count: number };
  const handle = CommandHandler<State, CounterEvent>({
    evolve: (state) => ({ count: state.count + 1 }),
    initialState: () => ({ count: 0 }),
    // Retries on version conflicts only, with a budget and delays close to the other stores'
    // (its default is 3 retries from 100 ms, which 16 writers on one stream exhaust).
    retry: {
      onVersionConflict: {
        retries: RETRY.maxAttempts - 1,
        minTimeout: 1,
        maxTimeout: RETRY.maxDelayMs,
        factor: 2,
        randomize: true,
        shouldRetryError: isExpectedVersionConflictError,
      },
    },
  });

  return {
    name: 'emmett',
    async append(stream, events, expected) {
      await store.appendToStream(
        stream,
        events.map((e) => ({ type: e.type, data: e.data, metadata: { ...e.metadata, messageId: e.id } })),
        { expectedStreamVersion: expected === 0 ? STREAM_DOES_NOT_EXIST : BigInt(expected) },
      );
    },
    async readStream(stream) {
      const result = await store.readStream(stream);
      return result.events.map((e) => e.data as Record<string, unknown>);
    },
    async command(stream, writer): Promise<CommandOutcome> {
      let attempts = 0;
      try {
        await handle(store, stream, (state) => {
          attempts++;
          return { type: 'Incremented', data: { n: state.count + 1, writer } };
        });
        return { attempts };
      } catch (error) {
        return { attempts, error };
      }
    },
    async catchUp({ onEvent }) {
      // Pages of 500 (as Ordo's subscription reads) and no pause between full pages: its
      // defaults (100 per page, 50 ms between pages) would cap it near 2,000 events/s.
      const consumer = store.consumer({
        stopWhen: { noMessagesLeft: true },
        pulling: { batchSize: 500, pullingFrequencyInMs: 0 },
      });
      consumer.reactor({
        processorId: 'bench-catch-up',
        startFrom: 'BEGINNING',
        eachMessage: async (message) => {
          onEvent(message.data as Record<string, unknown>);
        },
      });
      await consumer.start();
      await consumer.close();
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
