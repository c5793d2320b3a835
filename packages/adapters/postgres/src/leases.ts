import type pg from 'pg';
import { ValidationError, type ValidationIssue } from '@ordo/core';
import type { SchemaNames } from './schema.js';

/**
 * Projection leases in the `projection_leases` table: one row per projection, naming the owner
 * that holds it and until when. Every statement is a single plain statement timed by the server's
 * clock (`now()`), so leases work through a pooler in transaction mode and instances whose clocks
 * disagree still agree on who holds a lease.
 */

/** The store migration that adds the `projection_leases` table. */
export function projectionLeasesTable({ q }: SchemaNames): string {
  return `
create table ${q}.projection_leases (
  name text primary key,
  owner text not null,
  expires_at timestamptz not null
);`;
}

/**
 * Takes the lease of `name` for `owner` for `ttlMs` from now, or renews it: one upsert whose
 * update applies only when `owner` already holds the lease or it has expired. A row comes back
 * exactly when `owner` holds it afterwards.
 * @throws ValidationError for an empty or overlong owner, or a ttl that is not a positive whole number of ms.
 */
export async function acquireLease(pool: pg.Pool, { q }: SchemaNames, name: string, owner: string, ttlMs: number): Promise<boolean> {
  checkLease(owner, ttlMs);
  const result = await pool.query(
    `insert into ${q}.projection_leases as lease (name, owner, expires_at)
       values ($1, $2, now() + $3::int * interval '1 millisecond')
     on conflict (name) do update set owner = excluded.owner, expires_at = excluded.expires_at
       where lease.owner = excluded.owner or lease.expires_at <= now()`,
    [name, owner, ttlMs],
  );
  return result.rowCount === 1;
}

/** Deletes the lease of `name` if `owner` holds it, so another owner can take it at once. */
export async function releaseLease(pool: pg.Pool, { q }: SchemaNames, name: string, owner: string): Promise<void> {
  checkLease(owner, 1);
  await pool.query(`delete from ${q}.projection_leases where name = $1 and owner = $2`, [name, owner]);
}

const INT4_MAX = 2_147_483_647;

function checkLease(owner: unknown, ttlMs: unknown) {
  const issues: ValidationIssue[] = [];
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > 200 || /[\u0000-\u001f\u007f]/.test(owner)) {
    issues.push({ path: 'owner', message: 'must be 1–200 characters without control characters' });
  }
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > INT4_MAX) {
    issues.push({ path: 'ttlMs', message: `must be a whole number of ms from 1 to ${INT4_MAX}` });
  }
  if (issues.length > 0) throw new ValidationError('projection lease', issues);
}
