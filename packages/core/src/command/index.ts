/** Running commands: the handler, and the pieces it is made of that callers may need. */
export { createCommandHandler, type CommandHandler, type CommandHandlerOptions } from './handler.js';
export type { CommandContext } from './context.js';
export type { CommandResult } from './result.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
export { eventIdFor } from './idempotency.js';
export {
  transactStreams,
  type EventsByRole,
  type StatesOf,
  type StreamFold,
  type StreamFolds,
  type StreamsCommandResult,
  type TransactStreamsOptions,
} from './transact-streams.js';
