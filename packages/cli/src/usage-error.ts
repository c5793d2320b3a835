/** A command used wrongly (a bad URL, an unknown projection): exit code 2, the message only. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit codes: 0 done, 1 failed at run time, 2 used wrongly, 130 interrupted (SIGINT). */
export const EXIT = { ok: 0, runtime: 1, usage: 2, interrupted: 130 } as const;
