/**
 * Two copies of @ordo/core in one application, installed from the packed tarballs: an ES module
 * application that also loads Ordo through `require` gets the ESM and the CommonJS build, two
 * copies with two sets of error classes. Conflicts thrown by one copy must still be retried by the
 * command handler of the other (see `consumers/two-copies.mjs`).
 *
 * Tests the built packages (`pnpm check` builds before it tests): after changing the sources, run
 * `pnpm build` first. The installation is offline: the tarballs are unpacked into a temporary
 * `node_modules` and their dependencies linked from the workspace. The package gate runs the same
 * program after a real `npm install`.
 */
import { copyFile, mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl } from '../support/postgres.js';
import { CONSUMERS, packPackages, ROOT, runProgram } from './packages.js';

let app: string;

/** Unpacks the tarballs as `npm install` would, and links the packages' own dependencies. */
async function installOffline(dir: string): Promise<void> {
  const tarballs = await packPackages(dir, ['@ordo/core', '@ordo/orders', '@ordo/postgres']);
  for (const [name, tarball] of tarballs) {
    const target = join(dir, 'node_modules', name);
    await mkdir(target, { recursive: true });
    const untar = await runProgram('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], { cwd: dir });
    if (untar.code !== 0) throw new Error(`cannot unpack ${tarball}: ${untar.output}`);
  }
  const dependencies = { zod: 'packages/core', uuid: 'packages/core', pg: 'packages/adapters/postgres' };
  for (const [dependency, from] of Object.entries(dependencies)) {
    await symlink(await realpath(join(ROOT, from, 'node_modules', dependency)), join(dir, 'node_modules', dependency), 'dir');
  }
}

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), 'ordo-two-copies-'));
  await installOffline(app);
  await copyFile(join(CONSUMERS, 'two-copies.mjs'), join(app, 'two-copies.mjs'));
});

afterAll(async () => {
  if (app) await rm(app, { recursive: true, force: true });
});

describe('two copies of @ordo/core in one application', () => {
  it('ten services racing to record payments on one order all succeed, on memory and on PostgreSQL', async () => {
    const outcome = await runProgram('node', ['two-copies.mjs'], { cwd: app, env: { DATABASE_URL: postgresUrl() } });
    console.log(outcome.output.trim());
    expect(outcome.output).toMatch(/memory store \(ESM\) with order services \(CommonJS\): 10\/10 payments recorded, 10 on the order/);
    expect(outcome.output).toMatch(/PostgreSQL store \(CommonJS\) with order services \(ESM\): 10\/10 payments recorded, 10 on the order/);
    expect(outcome.code).toBe(0);
  });
});
