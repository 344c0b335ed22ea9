import type { EntityManager } from '@mikro-orm/postgresql';
import { isDuplicateRelation, isUniqueViolation } from '../db/errors';
import { query, run, sql } from '../db/sql';

/** Per time zone: its formatter, and the last minute it formatted (a minute is within one day: no
 * zone's offset has seconds). */
const zones = new Map<string, { format: Intl.DateTimeFormat; minute: number; day: string }>();

/** yyyyMMdd of `at` in the business time zone (API.md: order numbers and statistics days). */
export function businessDay(at: Date, timeZone: string): string {
  // Intl's time-zone formatting: ≈ 1 µs a call in a tight loop, yet 0.9 % of a busy worker's time under
  // placements (asked once per batch); one call a minute per zone instead.
  const minute = Math.floor(at.getTime() / 60_000);
  const zone = zones.get(timeZone);
  if (zone?.minute === minute) return zone.day;
  const format =
    zone?.format ??
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  // en-CA formats as 2026-11-21.
  const day = format.format(at).replaceAll('-', '');
  zones.set(timeZone, { format, minute, day });
  return day;
}

export const orderSequenceName = (day: string) => `order_no_seq_${day}`;

/** `20261121` + an 8-digit number: `2026112100000042`. */
export const formatOrderNo = (day: string, sequence: number | string) =>
  `${day}${String(sequence).padStart(8, '0')}`;
/** Days whose sequence is known to exist, per database (a process may outlive a database restore). */
const ensuredDays = new Set<string>();
const memoKey = (em: EntityManager, day: string) => `${em.config.get('clientUrl')}|${day}`;

/**
 * One PostgreSQL sequence per business day: numbering never serializes placements on a counter row,
 * and nextval needs no lock. The sequence is created (outside any transaction) the first time a
 * process needs that day's.
 */
export async function ensureOrderSequence(em: EntityManager, day: string): Promise<void> {
  if (ensuredDays.has(memoKey(em, day))) return;
  try {
    await run(
      em,
      sql`create sequence if not exists ${sql.raw(orderSequenceName(day))} minvalue 1 maxvalue 99999999`,
    );
  } catch (error) {
    // Several connections creating the same day's sequence at once: the losers of the catalog race
    // hear a unique violation (23505) or, when the winner commits between PostgreSQL's IF NOT EXISTS
    // check and its own catalog insert, "relation already exists" (42P07). Either way it exists now.
    if (!isUniqueViolation(error) && !isDuplicateRelation(error)) throw error;
  }
  ensuredDays.add(memoKey(em, day));
}

/**
 * Call when a statement using the day's sequence failed: if PostgreSQL said the sequence does not
 * exist (dropped, or another database), the memo forgets it so the retry creates it again.
 */
export function forgetMissingSequence(em: EntityManager, day: string, error: unknown): void {
  if ((error as { code?: string }).code === '42P01') ensuredDays.delete(memoKey(em, day));
}

/** Sequences of days before `oldestToKeep` (yyyyMMdd) are no longer used; the sweeper drops them. */
export async function dropOldOrderSequences(em: EntityManager, oldestToKeep: string): Promise<number> {
  const rows = await query<{ relname: string }>(
    em,
    sql`select relname from pg_class where relkind = 'S' and relname like 'order\\_no\\_seq\\_%'`,
  );
  const old = rows.map((r) => r.relname).filter((name) => name.slice(-8) < oldestToKeep);
  for (const name of old) await run(em, sql`drop sequence if exists ${sql.raw(name)}`);
  return old.length;
}
