/**
 * The packaging gate: what a user gets from npm, checked from the tarballs alone, outside the
 * workspace. Builds and packs every published package, lints each tarball (`attw`, `publint`),
 * installs them with `npm install` into a temporary application together with `pg` and
 * TypeScript, compiles a consumer under three module settings (strict, library declarations
 * checked) and runs it, runs plain ESM and CommonJS consumers, and the two-copies race. Every
 * consumer places an order on the memory store and one on PostgreSQL through its own `pg.Pool`.
 *
 * Usage: `pnpm package-gate [--skip-build]`. PostgreSQL: `DATABASE_URL`, or a throwaway server
 * started from the local binaries. Prints one line per check and a summary; exits 1 on any failure.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type TestPostgresServer } from '../support/postgres-server.js';
import { CONSUMERS, PUBLISHED, ROOT, packPackages, runProgram, type ProgramOutcome } from './packages.js';

/** Versions the consumer application installs from the registry. */
const REGISTRY_PACKAGES = ['pg@^8.16.0', '@types/pg@^8.15.0', '@types/node@^20.19.0', 'typescript@5.9.3'];

/** The module settings the TypeScript consumer is compiled under. */
const TYPESCRIPT_CONSUMERS = [
  { label: 'esm-nodenext', type: 'module', compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } },
  // NestJS's default: CommonJS output, node10 resolution, synthetic default imports.
  { label: 'cjs-node10', type: 'commonjs', compilerOptions: { module: 'commonjs', moduleResolution: 'node10', allowSyntheticDefaultImports: true } },
  { label: 'esm-bundler', type: 'module', compilerOptions: { module: 'ESNext', moduleResolution: 'bundler' } },
] as const;

interface CheckResult {
  name: string;
  ok: boolean;
  seconds: number;
}

const results: CheckResult[] = [];

/**
 * Runs one check, prints its line and records it. The program's output is shown when it fails, or
 * always with `show` (the consumers say what they did).
 */
async function check(name: string, work: () => Promise<ProgramOutcome | void>, show = false): Promise<boolean> {
  const started = performance.now();
  let outcome: ProgramOutcome;
  try {
    outcome = (await work()) ?? { code: 0, output: '' };
  } catch (error) {
    outcome = { code: 1, output: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  const seconds = (performance.now() - started) / 1000;
  const ok = outcome.code === 0;
  results.push({ name, ok, seconds });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} (${seconds.toFixed(1)} s)`);
  if ((!ok || show) && outcome.output.trim()) console.log(indent(outcome.output));
  return ok;
}

/** The output of a failed check, indented, at most 60 lines. */
function indent(text: string): string {
  const lines = text.trim().split('\n');
  const shown = lines.slice(0, 60).map((line) => `     | ${line}`);
  if (lines.length > 60) shown.push(`     | … ${lines.length - 60} more lines`);
  return shown.join('\n');
}

/** Lints each tarball with attw (types under every resolution mode) and publint (strict). */
async function lintTarballs(tarballs: Map<string, string>): Promise<void> {
  for (const [name, tarball] of tarballs) {
    await check(`attw ${name}`, () => runProgram('pnpm', ['exec', 'attw', tarball, '--format', 'ascii'], { cwd: ROOT }));
    await check(`publint ${name}`, () => runProgram('pnpm', ['exec', 'publint', 'run', tarball, '--strict'], { cwd: ROOT }));
  }
}

/** An application outside the workspace with the tarballs and the registry packages installed. */
async function installApplication(app: string, tarballs: Map<string, string>): Promise<boolean> {
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'ordo-consumer', private: true }, null, 2));
  return check('npm install of the tarballs, pg and typescript@5.9.3', () =>
    runProgram('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.values(), ...REGISTRY_PACKAGES], {
      cwd: app,
      timeoutMs: 300_000,
    }),
  );
}

/** Compiles the TypeScript consumer under one module setting, then runs it. */
async function typescriptConsumer(app: string, consumer: (typeof TYPESCRIPT_CONSUMERS)[number], env: Record<string, string>): Promise<void> {
  const dir = join(app, consumer.label);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: consumer.type }, null, 2));
  const compilerOptions = {
    ...consumer.compilerOptions,
    target: 'ES2022',
    lib: ['ES2022'],
    types: ['node'],
    strict: true,
    skipLibCheck: false,
    outDir: 'out',
    rootDir: '.',
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }, null, 2));
  await copyFile(join(CONSUMERS, 'consumer.ts'), join(dir, 'consumer.ts'));
  const tsc = join(app, 'node_modules', '.bin', 'tsc');
  const compiled = await check(`tsc --strict, ${consumer.label}`, () => runProgram(tsc, ['-p', dir], { cwd: dir }));
  if (!compiled) return;
  await check(`run ${consumer.label}: an order on memory and on PostgreSQL`, () =>
    runProgram('node', [join('out', 'consumer.js'), consumer.label], { cwd: dir, env }),
    true,
  );
}

/** Runs a JavaScript program from the consumers folder inside the application. */
async function javascriptConsumer(app: string, file: string, name: string, env: Record<string, string>): Promise<void> {
  await copyFile(join(CONSUMERS, file), join(app, file));
  await check(name, () => runProgram('node', [file], { cwd: app, env }), true);
}

/** DATABASE_URL, or a throwaway server from the local PostgreSQL binaries. */
async function postgres(): Promise<{ url: string; server?: TestPostgresServer }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL };
  const server = await startPostgres();
  return { url: server.url, server };
}

async function main(): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'ordo-package-gate-'));
  const app = join(work, 'app');
  await mkdir(app);
  let server: TestPostgresServer | undefined;
  try {
    if (!process.argv.includes('--skip-build')) {
      const built = await check('build', () => runProgram('pnpm', ['--filter', './packages/**', 'run', 'build'], { cwd: ROOT, timeoutMs: 300_000 }));
      if (!built) return 1;
    }
    let tarballs = new Map<string, string>();
    const packed = await check('pnpm pack', async () => {
      tarballs = await packPackages(work, PUBLISHED.map((p) => p.name));
    });
    if (!packed) return 1;
    await lintTarballs(tarballs);
    if (!(await installApplication(app, tarballs))) return 1;

    const database = await postgres();
    server = database.server;
    const env = { DATABASE_URL: database.url };
    for (const consumer of TYPESCRIPT_CONSUMERS) await typescriptConsumer(app, consumer, env);
    await javascriptConsumer(app, 'consumer.mjs', 'run plain .mjs: an order on memory and on PostgreSQL', env);
    await javascriptConsumer(app, 'consumer.cjs', 'run plain .cjs: an order on memory and on PostgreSQL', env);
    await javascriptConsumer(app, 'two-copies.mjs', 'two copies of @ordo/core: ten racing payments on one order', env);
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const started = performance.now();
const code = await main().catch((error: unknown) => {
  console.log(`FAIL package gate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 1;
});
const failed = results.filter((r) => !r.ok);
const total = ((performance.now() - started) / 1000).toFixed(0);
console.log(
  code === 0
    ? `package gate: ${results.length} checks passed (${total} s)`
    : `package gate FAILED: ${failed.length} of ${results.length} checks failed${failed.length > 0 ? ` (${failed.map((r) => r.name).join('; ')})` : ''} (${total} s)`,
);
process.exit(code);
