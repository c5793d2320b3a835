/**
 * Ordo: `PostgresEventStore` with the command handler (`createCommandHandler`) and the projection
 * runner (`createProjectionRunner`) from `@ordo/core`, wired the way a service wires them.
 */
import {
  createCommandHandler,
  createProjectionRunner,
  WrongExpectedVersionError,
  type Decider,
} from '@ordo/core';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';
import pg from 'pg';
import { POOL_SIZE, type BenchStore, type CommandOutcome, type CounterEvent } from './types.js';

interface Counter {
  count: number;
}

const counterDecider: Decider<{ writer: number }, CounterEvent, Counter> = {
  initialState: { count: 0 },
  decide: (command, state) => [{ type: 'Incremented', data: { n: state.count + 1, writer: command.writer } }],
  evolve: (state) => ({ count: state.count + 1 }),
};

export async function createOrdoStore(url: string): Promise<BenchStore> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const store = new PostgresEventStore({ pool });
  await store.migrate();
  const handler = createCommandHandler({ store, decider: counterDecider });

  return {
    name: 'ordo',
    async append(stream, events, expected) {
      await store.appendToStream(stream, events, {
        expectedVersion: expected === 0 ? 'no_stream' : BigInt(expected - 1),
      });
    },
    async readStream(stream) {
      const result = await store.readStream(stream);
      return result.events.map((e) => e.data as Record<string, unknown>);
    },
    async command(stream, writer): Promise<CommandOutcome> {
      try {
        const result = await handler.handle(stream, { writer }, { commandId: crypto.randomUUID() });
        return { attempts: result.attempts };
      } catch (error) {
        const attempts = error instanceof WrongExpectedVersionError && error.attempts !== undefined ? error.attempts : 1;
        return { attempts, error };
      }
    },
    async catchUp({ onEvent }) {
      // Checkpoints in PostgreSQL, the default wiring: the runner stores each batch's checkpoint
      // in the transaction it hands the projection.
      const runner = createProjectionRunner({
        store,
        checkpoints: new PostgresCheckpointStore({ pool }),
        projection: {
          name: 'bench-catch-up',
          handle(event) {
            onEvent(event.data as Record<string, unknown>);
          },
        },
      });
      const head = await store.headPosition();
      await runner.start();
      // Done when the projection has handled the log up to its head.
      await runner.waitFor(head, { timeoutMs: 30 * 60_000 });
      await runner.stop();
    },
    async readAll({ onEvent }) {
      for await (const event of store.readAll()) onEvent(event.data as Record<string, unknown>);
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
