import type { Row } from '../../db/database';
import { query, sql } from '../../db/sql';
import type { Effect } from './effect-context';

/*
 * Only a purchase that stands may be reviewed (API.md: a buyer who bought it). Every export of this
 * module is registered as an effect of the order machine.
 */

/**
 * A purchase undone — a paid order cancelled, or refunded in full — takes its reviews with it, and their
 * ratings out of the products' summaries; else a buyer could review and refund, again and again, for
 * free. The products' cached views are refreshed after commit.
 */
export const withdrawReviews: Effect = async (e) => {
  const rated = await query<Row<'products', 'id'>>(
    e.em,
    sql`with gone as (
          delete from reviews r using order_items i
          where i.order_id = ${e.order.id} and r.order_item_id = i.id
          returning r.product_id, r.rating),
        totals as (select product_id, count(*)::int as n, sum(rating)::int as s from gone group by product_id)
        update products p set rating_count = p.rating_count - t.n, rating_sum = p.rating_sum - t.s
        from totals t where p.id = t.product_id
        returning p.id`,
  );
  for (const product of rated) e.staleProducts.add(product.id);
};
