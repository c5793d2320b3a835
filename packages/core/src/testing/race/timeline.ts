/**
 * The story of one run, step by step, in the order things happened: who read which version, who
 * appended, who lost a race and retried. A failing race property prints it, so a reader sees the
 * race itself rather than a seed.
 */

/** One step of a run. */
export interface TimelineStep {
  /** Logical time: steps are numbered in the order they were observed. */
  at: number;
  /** Which caller or handler acted, e.g. `server#2`. */
  who: string;
  /** What happened, in words. */
  what: string;
}

/** Collects the steps of one run. */
export class Timeline {
  private readonly steps: TimelineStep[] = [];
  private clock = 0;

  /** Records a step and returns its logical time. */
  record(who: string, what: string): number {
    const at = ++this.clock;
    this.steps.push({ at, who, what });
    return at;
  }

  /** The current logical time, without recording anything. */
  now(): number {
    return this.clock;
  }

  /** The steps so far. */
  get all(): readonly TimelineStep[] {
    return this.steps;
  }

  /** The steps as aligned text, one per line. */
  toString(): string {
    const width = Math.max(0, ...this.steps.map((s) => s.who.length));
    return this.steps.map((s) => `${String(s.at).padStart(4)}  ${s.who.padEnd(width)}  ${s.what}`).join('\n');
  }
}

/** Shows a value compactly for a timeline line. */
export function brief(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  if (text === undefined) return String(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}
