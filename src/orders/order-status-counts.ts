import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql';

/**
 * Orders by status, kept by triggers on `orders` (migration `order_status_counts`): the folded
 * totals plus the deltas appended since the last fold. One snapshot reads both, so a fold running
 * at the same time (one transaction) is seen wholly or not at all.
 */
export async function countOrdersByStatus(em: EntityManager): Promise<Map<string, number>> {
  const rows = await query<{ status: string; count: number }>(
    em,
    sql`select status, sum(n)::float8 as count
        from (select status, count as n from order_status_counts
              union all select status, delta from order_status_deltas) changes
        group by status`,
  );
  return new Map(rows.map((r) => [r.status, r.count]));
}

/**
 * Moves the deltas into the totals in one statement (what the triggers appended since the last fold;
 * rows of transactions still open stay for the next). Two folds at once are safe: the second skips
 * the rows the first deleted, and the totals' rows serialize their updates. Returns the rows folded.
 */
export async function foldOrderStatusCounts(em: EntityManager): Promise<number> {
  const [folded] = await query<{ rows: number }>(
    em,
    sql`with moved as (delete from order_status_deltas returning status, delta),
             totals as (insert into order_status_counts (status, count)
                        select status, sum(delta) from moved group by status
                        on conflict (status) do update set count = order_status_counts.count + excluded.count)
        select count(*)::int as rows from moved`,
  );
  return folded?.rows ?? 0;
}
