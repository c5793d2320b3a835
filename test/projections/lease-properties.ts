/**
 * The lease half of the checkpoint store port, for every store that keeps leases: take, renew,
 * refuse another owner, hand over after expiry or release, and one winner among racing owners.
 */
import { describe, expect, it } from 'vitest';
import type { CheckpointStore } from '@ordo/core';
import { eventually, runToken } from './helpers.js';

/** A store with the lease methods (the suite fails at once on one without). */
type LeaseStore = CheckpointStore<unknown> & Required<Pick<CheckpointStore, 'acquireLease' | 'releaseLease'>>;

/** Runs the lease suite against stores `open` makes; every test uses lease names of its own. */
export function leaseStoreSuite(open: () => Promise<CheckpointStore<unknown>>): void {
  const leases = async (): Promise<LeaseStore> => {
    const store = await open();
    expect(typeof store.acquireLease).toBe('function');
    expect(typeof store.releaseLease).toBe('function');
    return store as LeaseStore;
  };
  const LONG = 60_000;

  describe('leases', () => {
    it('takes a free lease, renews it for its owner, and refuses other owners', async () => {
      const store = await leases();
      const name = `lease-${runToken()}`;
      expect(await store.acquireLease(name, 'a', LONG)).toBe(true);
      expect(await store.acquireLease(name, 'a', LONG)).toBe(true);
      expect(await store.acquireLease(name, 'b', LONG)).toBe(false);
      expect(await store.acquireLease(name, 'a', LONG)).toBe(true);
    });

    it('keeps one lease per name', async () => {
      const store = await leases();
      const [p, q] = [`lease-${runToken()}`, `lease-${runToken()}`];
      expect(await store.acquireLease(p, 'a', LONG)).toBe(true);
      expect(await store.acquireLease(q, 'b', LONG)).toBe(true);
      expect(await store.acquireLease(p, 'b', LONG)).toBe(false);
      expect(await store.acquireLease(q, 'a', LONG)).toBe(false);
    });

    it('hands the lease to another owner once it expired unrenewed, and refuses the old owner then', async () => {
      const store = await leases();
      const name = `lease-${runToken()}`;
      expect(await store.acquireLease(name, 'a', LONG)).toBe(true);
      expect(await store.acquireLease(name, 'b', LONG)).toBe(false);
      expect(await store.acquireLease(name, 'a', 1)).toBe(true); // renewed for 1 ms: expires at once
      await eventually(() => store.acquireLease(name, 'b', LONG), 'the expired lease to be taken by another owner');
      expect(await store.acquireLease(name, 'a', LONG)).toBe(false);
    });

    it('release frees the lease at once; only its owner can release it', async () => {
      const store = await leases();
      const name = `lease-${runToken()}`;
      await store.releaseLease(name, 'a'); // none yet: a no-op
      expect(await store.acquireLease(name, 'a', LONG)).toBe(true);
      await store.releaseLease(name, 'b');
      expect(await store.acquireLease(name, 'b', LONG)).toBe(false);
      await store.releaseLease(name, 'a');
      expect(await store.acquireLease(name, 'b', LONG)).toBe(true);
      expect(await store.acquireLease(name, 'a', LONG)).toBe(false);
    });

    it('gives a free lease, and an expired one, to exactly one of several racing owners', async () => {
      const store = await leases();
      const name = `lease-${runToken()}`;
      const owners = ['a', 'b', 'c', 'd', 'e'];
      const first = await Promise.all(owners.map((o) => store.acquireLease(name, o, LONG)));
      expect(first.filter(Boolean)).toHaveLength(1);
      const holder = owners[first.indexOf(true)]!;
      expect(await store.acquireLease(name, holder, 1)).toBe(true);
      const others = owners.filter((o) => o !== holder);
      let second: boolean[] = [];
      await eventually(async () => {
        second = await Promise.all(others.map((o) => store.acquireLease(name, o, LONG)));
        return second.some(Boolean);
      }, 'one of the others to take the expired lease');
      expect(second.filter(Boolean)).toHaveLength(1);
    });
  });
}
