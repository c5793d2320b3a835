import { Command, CommanderError, Option } from 'commander';
import { lifecycle } from './commands/lifecycle.js';
import { migrate } from './commands/migrate.js';
import { rebuild } from './commands/rebuild.js';
import { status } from './commands/status.js';
import { stream } from './commands/stream.js';
import { tail } from './commands/tail.js';
import { describeFailure } from './failure.js';
import { EXIT, UsageError } from './usage-error.js';

/** The options every database command takes. */
function withDatabaseOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'PostgreSQL connection string').env('DATABASE_URL'))
    .option('--schema <schema>', 'schema of the store and the order tables', 'ordo');
}

/** The database options, plus EventStoreDB, for the commands that only read the log. */
function withEventStoreOptions(command: Command): Command {
  return withDatabaseOptions(command).addOption(
    new Option('--esdb-url <url>', 'EventStoreDB (KurrentDB) connection string, e.g. esdb://localhost:2113?tls=false; instead of --url').env('EVENTSTOREDB_URL'),
  );
}

/** The `ordo` program; each action resolves to its exit code. */
function program(setExit: (code: number) => void): Command {
  const ordo = new Command('ordo')
    .description('Operate an Ordo event store: migrations, projection status and rebuilds, audit trails, a live tail.')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  withDatabaseOptions(ordo.command('migrate').description('create or upgrade the event store schema and the order tables'))
    .option('--print-sql', 'print the SQL instead of running it')
    .action((opts) => migrate(opts));
  withDatabaseOptions(ordo.command('status').description('projections: checkpoint, lag behind the head, state'))
    .option('--json', 'print JSON')
    .action((opts) => status(opts));
  withDatabaseOptions(ordo.command('rebuild').description('replay a projection from the start beside the live service (Ctrl-C stops; run again to resume)'))
    .argument('<projection>', 'read-model:order_numbers, read-model:notification_outbox or order-numbers')
    .option('--dry-run', 'count what would be replayed; write nothing')
    .option('--batch-size <n>', 'events per transaction')
    .option('--progress-every <ms>', 'milliseconds between progress lines when not on a terminal', '2000')
    .option('--prefix <prefix>', 'order-numbers: prefix of orders placed without one (as the service has it)')
    .option('--time-zone <zone>', 'order-numbers: the numbering time zone (as the service has it)')
    .action(async (name: string, opts) => setExit(await rebuild(name, opts)));
  withEventStoreOptions(ordo.command('stream').description("a stream's history as an audit trail: when, what, who, why"))
    .argument('<name>', 'stream name, e.g. order-<uuid>')
    .option('--json', 'print JSON')
    .action((name: string, opts) => stream(name, opts));
  withEventStoreOptions(ordo.command('tail').description('follow the global log live, until Ctrl-C'))
    .option('--filter <type-or-prefix>', 'only events of this type, or of streams starting with this')
    .option('--json', 'one JSON object per line')
    .action((opts) => tail(opts));
  ordo
    .command('lifecycle')
    .description('print the order lifecycle')
    .option('--mermaid', 'as a Mermaid state diagram')
    .action((opts) => lifecycle(opts));
  return ordo;
}

async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  try {
    await program((c) => (code = c)).parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(`ordo: ${describeFailure(error)}\n`);
    return error instanceof UsageError ? EXIT.usage : EXIT.runtime;
  }
}

process.exitCode = await main(process.argv);
