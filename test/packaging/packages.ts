/**
 * The published packages, and how the packaging checks turn them into tarballs and run programs
 * against them: shared by the package gate (`gate.ts`) and the two-copies test.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where the consumer programs are. */
export const CONSUMERS = fileURLToPath(new URL('./consumers', import.meta.url));

/** Every package that is published, with its folder. */
export const PUBLISHED = [
  { name: '@ordo/core', dir: 'packages/core' },
  { name: '@ordo/orders', dir: 'packages/orders' },
  { name: '@ordo/postgres', dir: 'packages/adapters/postgres' },
  { name: '@ordo/eventstoredb', dir: 'packages/adapters/eventstoredb' },
] as const;

/** The name of a published package. */
export type PublishedName = (typeof PUBLISHED)[number]['name'];

/**
 * `pnpm pack`s the named packages (already built) into `destination`, which replaces their
 * `workspace:` ranges with real versions as publishing does. Returns each package's tarball.
 */
export async function packPackages(destination: string, names: readonly PublishedName[]): Promise<Map<PublishedName, string>> {
  const tarballs = new Map<PublishedName, string>();
  for (const { name, dir } of PUBLISHED.filter((p) => names.includes(p.name))) {
    const packageDir = join(ROOT, dir);
    if (!existsSync(join(packageDir, 'dist'))) throw new Error(`${name} is not built (no ${dir}/dist): run \`pnpm build\` first`);
    const { stdout } = await run('pnpm', ['pack', '--json', '--pack-destination', destination], { cwd: packageDir });
    tarballs.set(name, (JSON.parse(stdout) as { filename: string }).filename);
  }
  return tarballs;
}

/** What a program printed and how it ended. */
export interface ProgramOutcome {
  code: number;
  output: string;
}

/** Runs a command to its end, never throwing: the outcome says whether it worked. */
export async function runProgram(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<ProgramOutcome> {
  try {
    const { stdout, stderr } = await run(command, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    const code = typeof failed.code === 'number' ? failed.code : 1;
    return { code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` || failed.message };
  }
}
