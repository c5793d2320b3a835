import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests run against the TypeScript sources, so `pnpm test` needs no build first.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@ordo\/core\/testing\/race$/, replacement: src('./packages/core/src/testing/race/index.ts') },
      { find: /^@ordo\/core\/testing\/contract$/, replacement: src('./packages/core/src/testing/contract/index.ts') },
      { find: /^@ordo\/core\/testing$/, replacement: src('./packages/core/src/testing/index.ts') },
      { find: /^@ordo\/core$/, replacement: src('./packages/core/src/index.ts') },
      { find: /^@ordo\/orders\/postgres$/, replacement: src('./packages/orders/src/postgres/index.ts') },
      { find: /^@ordo\/orders$/, replacement: src('./packages/orders/src/index.ts') },
      { find: /^@ordo\/postgres$/, replacement: src('./packages/adapters/postgres/src/index.ts') },
      { find: /^@ordo\/eventstoredb$/, replacement: src('./packages/adapters/eventstoredb/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/**/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    // The JSON report feeds the one-line total that .ci/run prints.
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    // One PostgreSQL server for every test file (or DATABASE_URL): see test/support/postgres-server.ts.
    globalSetup: ['./test/support/postgres-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
