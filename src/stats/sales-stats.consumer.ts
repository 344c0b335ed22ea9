import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { preparedStatement, query, run, sql } from '../db/sql';
import type { ConsumerOutcome, EventConsumer } from '../messaging/consumer';
import type { DomainEventMessage } from '../messaging/domain-events';
import { orderTagged } from '../orders/order-tags';
import { invalidatePopularProducts } from './popular-products';

/**
 * Makes the orders' sales lines match their current state: present while an order counts as a sale
 * (PAID, CONFIRMED), absent otherwise. Whatever order ORDER_PAID and ORDER_CANCELLED arrive in, or
 * however often, the result is the same; the advisory locks (lockSales) serialize the two for one
 * order so neither works from a view the other is about to change. Returns whether anything changed.
 * One statement: its insert and delete share a snapshot and never touch the same lines (one needs a
 * sale, the other not).
 */
export async function syncOrderSales(
  tx: EntityManager,
  orderIds: readonly string[],
  timezone: string,
  locked = false,
): Promise<boolean> {
  if (orderIds.length === 0) return false;
  if (!locked) await run(tx, sql`select ${lockSales(orderIds)}`);
  const [row] = await query<{ changed: number }>(
    tx,
    preparedStatement(sql`with added as (
          insert into sales_lines (order_id, product_id, category, day, paid_at, units, revenue)
          select o.id, i.product_id, min(i.category), (o.paid_at at time zone ${timezone})::date, o.paid_at,
                 sum(i.quantity), sum(i.line_total)
          from orders o join order_items i on i.order_id = o.id
          where o.id = any(${orderIds}::uuid[]) and ${orderTagged('counts-as-sale')} and o.paid_at is not null
          group by o.id, o.paid_at, i.product_id
          on conflict do nothing
          returning 1),
        removed as (
          delete from sales_lines s using orders o
          where s.order_id = any(${orderIds}::uuid[]) and o.id = s.order_id
            and not (${orderTagged('counts-as-sale')})
          returning 1)
        select ((select count(*) from added) + (select count(*) from removed))::int as changed`),
  );
  return (row?.changed ?? 0) > 0;
}

/**
 * The sales locks of the orders a subquery lists (one `order_id` column), taken in order-id order: two
 * transactions that share orders (two events jobs applied at once) queue on the first they share
 * instead of deadlocking.
 */
const lockSalesOf = (orders: RawBuilder<unknown>) =>
  sql`(select count(pg_advisory_xact_lock(hashtextextended('sales:' || l.order_id, 0)))
       from (select distinct order_id from (${orders}) o order by 1) l)`;

const lockSales = (orderIds: readonly string[]) =>
  lockSalesOf(sql`select unnest(${orderIds}::text[]) as order_id`);

/**
 * Records the events as applied by sales-stats and takes the sales locks of their orders, in one
 * statement; returns the events recorded now. One recorded already is a duplicate (a concurrent
 * delivery waits on its row, then finds it), and its order is not locked for it.
 */
async function recordAndLock(tx: EntityManager, events: readonly SalesEvent[]): Promise<Set<string>> {
  const rows = await query<Row<'processed_messages', 'message_id'>>(
    tx,
    preparedStatement(sql`with given as (
          select * from unnest(${events.map((e) => e.id)}::text[], ${events.map((e) => e.data.orderId)}::text[])
            as t(message_id, order_id)),
        first as (
          insert into processed_messages (consumer, message_id, processed_at)
          select 'sales-stats', message_id, clock_timestamp() from given
          on conflict do nothing returning message_id)
        select f.message_id,
               ${lockSalesOf(sql`select g.order_id from given g join first using (message_id)`)} as locks
        from first f`),
  );
  return new Set(rows.map((r) => r.message_id));
}

type SalesEvent = Extract<DomainEventMessage, { type: 'ORDER_PAID' | 'ORDER_CANCELLED' }>;
const changesSales = (event: DomainEventMessage): event is SalesEvent =>
  event.type === 'ORDER_PAID' || event.type === 'ORDER_CANCELLED';

/**
 * The sales events of an events job in one transaction of two statements — record them and lock
 * their orders, then sync every order's sales lines — and one invalidation of the popular ranking
 * if anything changed.
 */
async function applySalesEvents(ctx: AppContext, events: DomainEventMessage[]) {
  // Recorded in event-id order: two jobs carrying the same events never wait on each other's rows crosswise.
  const sales = events.filter(changesSales).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const outcomes = new Map<string, ConsumerOutcome>();
  if (sales.length === 0) return outcomes;
  const { first, changed } = await ctx.orm.em.fork().transactional(async (tx: EntityManager) => {
    const recorded = await recordAndLock(tx, sales);
    const orders = [...new Set(sales.filter((e) => recorded.has(e.id)).map((e) => e.data.orderId))];
    return { first: recorded, changed: await syncOrderSales(tx, orders, ctx.config.timezone, true) };
  });
  for (const event of sales) outcomes.set(event.id, first.has(event.id) ? 'applied' : 'duplicate');
  if (changed) await invalidatePopularProducts(ctx);
  return outcomes;
}

/** Sales statistics (popular products, admin sales report): a paid order counts, a cancelled one not. */
export const salesStatsConsumer: EventConsumer = {
  name: 'sales-stats',
  handles: changesSales,
  acknowledges: (_ctx, event) => changesSales(event),
  applyMany: (ctx, events) => applySalesEvents(ctx, events),
  apply: async (ctx, event) => (await applySalesEvents(ctx, [event])).get(event.id) ?? 'skipped',
};
