import type { EntityManager } from '@mikro-orm/postgresql';
import { run, sql } from '../db/sql';
import { applyOnce, type EventConsumer } from '../messaging/consumer';
import type { DomainEventMessage } from '../messaging/domain-events';
import { orderTagged } from '../orders/order-tags';
import { invalidatePopularProducts } from './popular-products';

/**
 * Makes the order's sales lines match its current state: present while it counts as a sale (PAID,
 * CONFIRMED), absent otherwise. Whatever order ORDER_PAID and ORDER_CANCELLED arrive in, or however often, the
 * result is the same; the advisory lock serializes the two for one order so neither works from a
 * view the other is about to change. Returns whether anything changed.
 */
export async function syncOrderSales(tx: EntityManager, orderId: string, timezone: string): Promise<boolean> {
  await run(tx, sql`select pg_advisory_xact_lock(hashtextextended(${`sales:${orderId}`}, 0))`);
  const added = await run(
    tx,
    sql`insert into sales_lines (order_id, product_id, category, day, paid_at, units, revenue)
        select o.id, i.product_id, min(i.category), (o.paid_at at time zone ${timezone})::date, o.paid_at,
               sum(i.quantity), sum(i.line_total)
        from orders o join order_items i on i.order_id = o.id
        where o.id = ${orderId} and ${orderTagged('counts-as-sale')} and o.paid_at is not null
        group by o.id, o.paid_at, i.product_id
        on conflict do nothing`,
  );
  const removed = await run(
    tx,
    sql`delete from sales_lines s using orders o
        where s.order_id = ${orderId} and o.id = s.order_id and not (${orderTagged('counts-as-sale')})`,
  );
  return added + removed > 0;
}

type SalesEvent = Extract<DomainEventMessage, { type: 'ORDER_PAID' | 'ORDER_CANCELLED' }>;
const changesSales = (event: DomainEventMessage): event is SalesEvent =>
  event.type === 'ORDER_PAID' || event.type === 'ORDER_CANCELLED';

/** Sales statistics (popular products, admin sales report): a paid order counts, a cancelled one not. */
export const salesStatsConsumer: EventConsumer = {
  name: 'sales-stats',
  handles: changesSales,
  acknowledges: (_ctx, event) => changesSales(event),
  apply: async (ctx, event) => {
    if (!changesSales(event)) return 'skipped';
    const { orderId } = event.data;
    let changed = false;
    const outcome = await applyOnce(ctx, 'sales-stats', event, async (tx) => {
      changed = await syncOrderSales(tx, orderId, ctx.config.timezone);
    });
    if (changed) await invalidatePopularProducts(ctx);
    return outcome;
  },
};
