import { describe, expect, test } from 'vitest';
import { DEMO_USAGE, UsageError, parseDemoArgs } from './demo-args.js';

describe('pnpm demo arguments', () => {
  test('the store is memory unless one is named', () => {
    expect(parseDemoArgs([])).toEqual({ help: false, store: 'memory' });
  });

  test.each([
    [['--store', 'postgres']],
    [['--store=postgres']],
    [['--', '--store', 'postgres']],
  ])('%j names PostgreSQL', (argv) => {
    expect(parseDemoArgs(argv)).toEqual({ help: false, store: 'postgres' });
  });

  test('--help and -h ask for the usage, which names every store', () => {
    expect(parseDemoArgs(['--help'])).toEqual({ help: true });
    expect(parseDemoArgs(['-h'])).toEqual({ help: true });
    for (const kind of ['memory', 'postgres', 'eventstoredb']) expect(DEMO_USAGE).toContain(kind);
  });

  test.each([
    [['--store', 'mysql'], /--store takes memory, postgres, eventstoredb, not "mysql"/],
    [['--store=postgress'], /not "postgress"/],
    [['--store'], /--store/],
    [['--stores', 'postgres'], /--stores/],
    [['postgres'], /postgres/],
  ])('%j is a usage error that says what is wrong', (argv, message) => {
    expect(() => parseDemoArgs(argv)).toThrow(UsageError);
    expect(() => parseDemoArgs(argv)).toThrow(message);
  });
});
