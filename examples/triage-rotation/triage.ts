/**
 * The failure: a triage bot runs as two instances (a deploy overlap, a failover), so both start the
 * same sprint; the chat platform delivers an override request twice. With a table keyed on
 * (team, sprint), that ends in `duplicate key value violates unique constraint`; after the usual
 * "fix" of a random suffix on the key, in two sprints and two swaps.
 *
 * Here: a rotation instead of an order, on the same `Decider`, command handler and store. Two bot
 * instances sync the team's roster and start sprint 42 at the same moment, and one override
 * request arrives twice. Every command is decided against the stream as read and appended with
 * that version: the loser of a race re-reads, finds the work done, and decides nothing.
 */
import {
  DuplicateEventIdError,
  WrongExpectedVersionError,
  createCommandHandler,
  type EventStore,
} from '@ordo/core';
import { rotationDecider, rotationStream, type RotationCommand, type RotationEvent } from './rotation.js';

const BOTS = ['triage-bot@a', 'triage-bot@b'];

/** The team as the HR system lists it: one person may serve in several disciplines. */
const TEAM = [
  { person: 'ana', disciplines: ['backend', 'frontend'] },
  { person: 'ben', disciplines: ['backend'] },
  { person: 'chen', disciplines: ['frontend', 'mobile'] },
  { person: 'dev', disciplines: ['mobile'] },
  { person: 'eli', disciplines: ['backend', 'mobile'] },
];

export interface Sent {
  bot: string;
  outcome: 'recorded' | 'no-op' | 'duplicate' | 'failed';
  attempts: number;
  error?: unknown;
}

export interface TriageSummary {
  team: string;
  /** Per discipline, who takes turns, in order. */
  rotation: Record<string, string[]>;
  joins: { sent: number; recorded: number; absorbed: number };
  sprint: { number: number; startsOn: string; onCall: Record<string, string>; recorded: number; starts: Sent[] };
  override: { requestId: string; discipline: string; from: string; to: string; reason: string; recorded: number; deliveries: Sent[] };
  /** Who is on call once the override is in. */
  onCall: Record<string, string>;
  /** Commands that failed on a duplicate event id or a version conflict that escaped the retries. */
  duplicateKeyFailures: number;
  /** Commands that failed with any error. */
  failures: number;
  auditTrail: string[];
}

export async function triageRotation(
  store: EventStore,
  { team = `payments-${Date.now().toString(36)}`, sprint = 42 } = {},
): Promise<TriageSummary> {
  const rotation = createCommandHandler({ store, decider: rotationDecider });
  const stream = rotationStream(team);

  async function send(bot: string, commandId: string, command: RotationCommand): Promise<Sent> {
    try {
      const result = await rotation.handle(stream, command, { commandId, actor: bot });
      const outcome = result.duplicate ? 'duplicate' : result.noop ? 'no-op' : 'recorded';
      return { bot, outcome, attempts: result.attempts };
    } catch (error) {
      return { bot, outcome: 'failed', attempts: 0, error };
    }
  }
  const asked = (bot: string) => ({ actor: bot, at: new Date().toISOString() });

  // Both bot instances sync the roster at start-up, at the same time.
  const joins = (
    await Promise.all(
      BOTS.map(async (bot) => {
        const sent: Sent[] = [];
        for (const { person, disciplines } of TEAM) {
          sent.push(await send(bot, `${bot}:join:${person}`, { type: 'JoinRotation', person, disciplines, ...asked(bot) }));
        }
        return sent;
      }),
    )
  ).flat();

  // Monday 09:00: both instances' schedulers fire and start the sprint.
  const startsOn = '2026-11-23';
  const starts = await Promise.all(
    BOTS.map((bot) => send(bot, `${bot}:sprint-${sprint}`, { type: 'StartSprint', sprint, startsOn, ...asked(bot) })),
  );
  const started = (await rotation.load(stream)).state.sprint!;

  // Someone asks in chat for a swap; the platform delivers the message twice, once to each bot.
  const request = { requestId: 'chat-msg-8812', discipline: 'backend', replace: started.onCall.backend!, with: 'eli', reason: 'out sick today' };
  const deliveries = await Promise.all(
    BOTS.map((bot, i) => send(bot, `${bot}:delivery-${i + 1}`, { type: 'RequestOverride', ...request, ...asked(bot) })),
  );

  // Everything below is read back from the team's stream.
  const { state, events } = await rotation.load(stream);
  const count = (type: RotationEvent['type']) => events.filter((e) => e.type === type).length;
  const all = [...joins, ...starts, ...deliveries];
  return {
    team,
    rotation: state.rosters,
    joins: { sent: joins.length, recorded: count('MemberJoined'), absorbed: joins.filter((j) => j.outcome === 'no-op' || j.outcome === 'duplicate').length },
    sprint: { number: started.number, startsOn: started.startsOn, onCall: started.onCall, recorded: count('SprintStarted'), starts },
    override: { ...request, from: request.replace, to: request.with, recorded: count('OverrideRecorded'), deliveries },
    onCall: state.sprint!.onCall,
    duplicateKeyFailures: all.filter((s) => s.error instanceof DuplicateEventIdError || s.error instanceof WrongExpectedVersionError).length,
    failures: all.filter((s) => s.outcome === 'failed').length,
    auditTrail: events.map((e) => {
      const event = e as unknown as RotationEvent;
      const what =
        event.type === 'MemberJoined'
          ? `${event.data.person} joins ${event.data.disciplines.join(', ')}`
          : event.type === 'SprintStarted'
            ? `sprint ${event.data.sprint} starts`
            : `${event.data.discipline}: ${event.data.from} → ${event.data.to} (${event.data.reason})`;
      return `v${e.streamVersion} ${e.type}: ${what}, by ${e.metadata.actor}`;
    }),
  };
}

const onCallLine = (onCall: Record<string, string>) =>
  Object.entries(onCall)
    .map(([d, p]) => `${d} ${p}`)
    .join(', ');

export function printTriageRotation(s: TriageSummary): void {
  const people = new Set(Object.values(s.rotation).flat());
  console.log(`Team ${s.team}: ${people.size} people in ${Object.keys(s.rotation).length} disciplines, ${BOTS.length} bot instances`);
  console.log('  rotation (turn order per discipline):');
  for (const [discipline, roster] of Object.entries(s.rotation)) console.log(`    ${discipline.padEnd(9)} ${roster.join(' → ')}`);
  console.log(`  roster synced by both bots: ${s.joins.sent} joins sent, ${s.joins.recorded} recorded, ${s.joins.absorbed} absorbed as no-ops`);
  console.log(`  sprint ${s.sprint.number} started by both bots at once: ${s.sprint.recorded} recorded`);
  for (const start of s.sprint.starts) console.log(`    ${start.bot}  ${start.outcome} (${start.attempts} attempt${start.attempts === 1 ? '' : 's'})`);
  console.log(`    on call from ${s.sprint.startsOn}: ${onCallLine(s.sprint.onCall)}`);
  const o = s.override;
  console.log(`  override ${o.requestId} delivered ${o.deliveries.length} times: ${o.recorded} recorded (${o.discipline}: ${o.from} → ${o.to}, ${o.reason})`);
  for (const d of o.deliveries) console.log(`    ${d.bot}  ${d.outcome}`);
  console.log(`    on call now: ${onCallLine(s.onCall)}`);
  console.log(`  duplicate-key failures: ${s.duplicateKeyFailures} (failed commands of any kind: ${s.failures})`);
  console.log('  the team stream, which is its audit trail:');
  for (const line of s.auditTrail) console.log(`    ${line}`);
}
