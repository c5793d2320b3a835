import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { bin: 'src/bin.ts' },
  format: ['esm'],
  clean: true,
  sourcemap: true,
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
  // The Ordo packages are dependencies: the command runs the same code a service does.
  external: ['@ordo/core', '@ordo/orders', '@ordo/postgres', '@ordo/eventstoredb', '@eventstore/db-client', 'pg', 'commander', 'cli-progress'],
});
