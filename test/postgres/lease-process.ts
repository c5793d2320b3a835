/**
 * A service instance as its own process, for the lease kill test (lease-kill.test.ts): the
 * order-numbers projection on PostgreSQL with a short lease. The parent asks for its runner's
 * status through IPC and kills it with SIGKILL. Run with `node --import tsx`; settings come from
 * the environment.
 */
import pg from 'pg';
import { createOrderNumbers } from '@ordo/orders';
import { PostgresCheckpointStore, PostgresEventStore } from '@ordo/postgres';

/** What the parent asks: the runner's state and position. */
export interface StatusRequest {
  type: 'status';
  id: number;
}

/** The answer to a {@link StatusRequest}. */
export interface StatusReply {
  id: number;
  state: string;
  position: string;
}

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 4 });
pool.on('error', () => undefined);
const schema = env('ORDO_SCHEMA');
const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 100 });
await store.migrate();
const numbers = createOrderNumbers({
  store,
  checkpoints: new PostgresCheckpointStore({ pool, schema }),
  prefix: env('ORDER_PREFIX'),
  lease: { ttlMs: Number(env('LEASE_TTL_MS')), owner: env('LEASE_OWNER') },
});
await numbers.start();

process.on('message', (message: StatusRequest) => {
  const { state, position } = numbers.runner.status();
  process.send!({ id: message.id, state, position: position.toString() } satisfies StatusReply);
});
process.send!({ ready: true });
