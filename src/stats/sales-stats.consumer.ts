import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedStatement, query, run, sql } from '../db/sql';
import type { EventConsumer } from '../messaging/consumer';
import type { DomainEventMessage } from '../messaging/domain-events';
import { orderTagged } from '../orders/order-tags';
import { invalidatePopularProducts } from './popular-products';

/**
 * Makes the order's sales lines match its current state: present while it counts as a sale (PAID,
 * CONFIRMED), absent otherwise. Whatever order ORDER_PAID and ORDER_CANCELLED arrive in, or however often, the
 * result is the same; the advisory lock (salesLock) serializes the two for one order so neither works
 * from a view the other is about to change. Returns whether anything changed. One statement: its
 * insert and delete share a snapshot and never touch the same lines (one needs a sale, the other not).
 */
export async function syncOrderSales(
  tx: EntityManager,
  orderId: string,
  timezone: string,
  locked = false,
): Promise<boolean> {
  if (!locked) await run(tx, sql`select ${salesLock(orderId)}`);
  const [row] = await query<{ changed: number }>(
    tx,
    preparedStatement(sql`with added as (
          insert into sales_lines (order_id, product_id, category, day, paid_at, units, revenue)
          select o.id, i.product_id, min(i.category), (o.paid_at at time zone ${timezone})::date, o.paid_at,
                 sum(i.quantity), sum(i.line_total)
          from orders o join order_items i on i.order_id = o.id
          where o.id = ${orderId} and ${orderTagged('counts-as-sale')} and o.paid_at is not null
          group by o.id, o.paid_at, i.product_id
          on conflict do nothing
          returning 1),
        removed as (
          delete from sales_lines s using orders o
          where s.order_id = ${orderId} and o.id = s.order_id and not (${orderTagged('counts-as-sale')})
          returning 1)
        select ((select count(*) from added) + (select count(*) from removed))::int as changed`),
  );
  return (row?.changed ?? 0) > 0;
}

const salesLock = (orderId: string) => sql`pg_advisory_xact_lock(hashtextextended(${`sales:${orderId}`}, 0))`;

/**
 * Records the event as applied by sales-stats and takes the order's sales lock, in one statement;
 * false when it was recorded already (a concurrent delivery waits on the row, then finds it).
 */
async function recordAndLock(tx: EntityManager, eventId: string, orderId: string): Promise<boolean> {
  const [row] = await query<{ first: number }>(
    tx,
    preparedStatement(sql`with first as (
          insert into processed_messages (consumer, message_id, processed_at)
          values ('sales-stats', ${eventId}, clock_timestamp()) on conflict do nothing returning 1)
        select (select count(*) from first)::int as first, ${salesLock(orderId)}`),
  );
  return row?.first === 1;
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
    // Two statements in one transaction: record + lock, then the sales lines.
    const outcome = await ctx.orm.em.fork().transactional(async (tx: EntityManager) => {
      if (!(await recordAndLock(tx, event.id, orderId))) return 'duplicate' as const;
      changed = await syncOrderSales(tx, orderId, ctx.config.timezone, true);
      return 'applied' as const;
    });
    if (changed) await invalidatePopularProducts(ctx);
    return outcome;
  },
};
