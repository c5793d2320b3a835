import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'postgres/index': 'src/postgres/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // The kernel and the PostgreSQL adapter are peers: one copy in the application.
  external: ['@ordo/core', '@ordo/postgres', 'pg'],
});
