import fc from 'fast-check';
import type { RaceCommand } from './race-property.js';

/** What {@link raceCommands} draws from. */
export interface RaceCommandsOptions<Command> {
  /** The streams commands go to; few streams make more races. */
  streams: readonly string[];
  /** One command (for any stream). */
  command: fc.Arbitrary<Command>;
  /** App servers to spread the commands over. Default 3. */
  servers?: number;
  /** Most commands in a run, before re-sends. Default 8. */
  maxCommands?: number;
  /** Most re-sent copies (same command id, maybe another server). Default 3. */
  maxResends?: number;
}

/**
 * Commands for a race: each with its own command id (`cmd-1`, `cmd-2`, …), a stream and a server,
 * plus re-sent copies of some of them — the same command id, as after a lost response or a double
 * click — possibly to another server.
 */
export function raceCommands<Command>(options: RaceCommandsOptions<Command>): fc.Arbitrary<RaceCommand<Command>[]> {
  const servers = options.servers ?? 3;
  const one = fc.record({
    stream: fc.constantFrom(...options.streams),
    command: options.command,
    server: fc.nat({ max: servers - 1 }),
  });
  return fc
    .array(one, { minLength: 1, maxLength: options.maxCommands ?? 8 })
    .chain((drawn) => {
      const sent = drawn.map((c, i) => ({ ...c, commandId: `cmd-${i + 1}` }));
      const resend = fc.record({ of: fc.nat({ max: sent.length - 1 }), server: fc.nat({ max: servers - 1 }) });
      return fc
        .array(resend, { maxLength: options.maxResends ?? 3 })
        .map((copies) => [...sent, ...copies.map(({ of, server }) => ({ ...sent[of]!, server }))]);
    });
}
