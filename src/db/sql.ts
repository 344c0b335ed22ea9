import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';

/**
 * Raw SQL with real bind parameters (arrays arrive as PostgreSQL arrays), running inside the
 * EntityManager's transaction when it has one. Used where the unit of work would cost more than
 * it gives: conditional atomic updates, bulk inserts, hot reads.
 */
export { sql };

export async function query<Row>(em: EntityManager, statement: ReturnType<typeof sql<Row>>): Promise<Row[]> {
  const result = await statement.execute(em.getKysely());
  return result.rows;
}

/** Runs a statement and returns how many rows it changed. */
export async function run(em: EntityManager, statement: ReturnType<typeof sql>): Promise<number> {
  const result = await statement.execute(em.getKysely());
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Timestamps read through `sql` arrive as strings (MikroORM turns pg's date parsing off for its own
 * hydration); this gives a Date either way.
 */
export function asDate(value: Date | string): Date;
export function asDate(value: Date | string | null): Date | null;
export function asDate(value: Date | string | null): Date | null {
  if (value === null) return null;
  return value instanceof Date ? value : new Date(value);
}

/** A timestamp read through `sql` as an ISO-8601 UTC string (null stays null). */
export function asIso(value: Date | string): string;
export function asIso(value: Date | string | null): string | null;
export function asIso(value: Date | string | null): string | null {
  return value === null ? null : asDate(value).toISOString();
}
