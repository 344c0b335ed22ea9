import type { AppContext } from '../context';
import { query, sql } from '../db/sql';

export type SalesGrouping = 'day' | 'category';

export interface SalesRow {
  key: string;
  orders: number;
  units: number;
  revenue: number;
}

/**
 * Sales of PAID/CONFIRMED orders paid between `from` and `to` (YYYY-MM-DD, inclusive, business days
 * in SHOP_TIMEZONE). By day: every day of the range, oldest first, zeros included. By category:
 * categories that sold (the category at order time), highest revenue first. `orders` counts distinct
 * orders; revenue is the lines' total before coupon discounts and refunds.
 */
export async function salesReport(
  ctx: AppContext,
  range: { from: string; to: string; groupBy: SalesGrouping },
): Promise<SalesRow[]> {
  const em = ctx.orm.em.fork();
  const { from, to } = range;
  if (range.groupBy === 'day') {
    return query<SalesRow>(
      em,
      sql`select to_char(d.day, 'YYYY-MM-DD') as key, coalesce(count(distinct s.order_id), 0)::int as orders,
                 coalesce(sum(s.units), 0)::int as units, coalesce(sum(s.revenue), 0)::float8 as revenue
          from generate_series(${from}::date, ${to}::date, interval '1 day') as d(day)
          left join sales_lines s on s.day = d.day::date
          group by d.day order by d.day`,
    );
  }
  return query<SalesRow>(
    em,
    sql`select category as key, count(distinct order_id)::int as orders, sum(units)::int as units,
               sum(revenue)::float8 as revenue
        from sales_lines where day between ${from}::date and ${to}::date
        group by category order by revenue desc, category`,
  );
}
