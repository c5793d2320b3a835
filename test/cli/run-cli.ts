/**
 * Runs the BUILT `ordo` binary (packages/cli/dist/bin.js), as an operator would. `pnpm check`
 * builds before it tests; run `pnpm build` first when running these tests alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built binary. */
export const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

/** Fails with a clear message when the binary has not been built. */
export function requireBuild(): void {
  if (!existsSync(BIN)) throw new Error(`The ordo CLI is not built (${BIN} is missing): run \`pnpm build\` first`);
}

/** What a finished run printed, and its exit code. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `ordo args…` with `env` added to this process's environment (DATABASE_URL and EVENTSTOREDB_URL removed unless given). */
export function startCli(args: readonly string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliRun>; output: () => CliRun } {
  const { DATABASE_URL: _database, EVENTSTOREDB_URL: _eventstoredb, ...base } = process.env;
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, output: () => ({ code: child.exitCode, stdout, stderr }) };
}

/** Runs `ordo args…` to the end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return startCli(args, env).done;
}
