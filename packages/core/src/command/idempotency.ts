import { v5 as uuidv5 } from 'uuid';
import type { EventOf, RecordedEvent } from '../events.js';

const EVENT_ID_NAMESPACE = '4f0d7f0e-5f2b-4c1b-9c53-0a1e3d7c2b61';

/**
 * The id of the `index`-th event that command `commandId` produces on `stream`. Deterministic, so
 * a command retried after a lost response produces the same ids and the store absorbs it.
 */
export function eventIdFor(stream: string, commandId: string, index: number): string {
  return uuidv5(`${stream}\n${commandId}\n${index}`, EVENT_ID_NAMESPACE);
}

/** What an already-applied command produced, and where its last event sits in the global log. */
export interface AppliedCommand<Event extends EventOf> {
  events: Event[];
  position: bigint;
}

/**
 * The commands seen in one stream, by command id: how a retried command is recognised and answered
 * with its first result instead of being decided again.
 */
export class AppliedCommands<Event extends EventOf> {
  private readonly byId = new Map<string, AppliedCommand<Event>>();

  /** Notes an event read from the stream; events without a command id are not commands' work. */
  recordRead(event: RecordedEvent): void {
    const commandId = event.metadata.commandId;
    if (typeof commandId !== 'string') return;
    const applied = { type: event.type, data: event.data } as Event;
    const known = this.byId.get(commandId);
    this.byId.set(commandId, { events: [...(known?.events ?? []), applied], position: event.globalPosition });
  }

  /** Notes the commands of a batch just appended, whose last event is at `position`. */
  recordAppended(decided: ReadonlyMap<string, Event[]>, position: bigint): void {
    for (const [commandId, events] of decided) this.byId.set(commandId, { events: [...events], position });
  }

  find(commandId: string): AppliedCommand<Event> | undefined {
    return this.byId.get(commandId);
  }
}
