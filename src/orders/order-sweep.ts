import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { query, sql } from '../db/sql';
import type { Logger } from '../logger';
import { ORDER_NOTICE, ORDER_SWEEP, type OrderNotice } from '../messaging/messages';
import { addRoutedJobs, mailboxFor } from '../messaging/queues';
import type { OrderTimerName } from './commit-transition';
import { businessDay, dropOldOrderSequences } from './order-number';
import { foldOrderStatusCounts } from './order-status-counts';
import { orderTagged } from './order-tags';

const BATCH = 500;

type OrderId = Row<'orders', 'id'>;

/**
 * Orders whose timer is due now, each found through its partial index from the earliest due: unpaid
 * past their window (`expires_at`), or paid and due to auto-confirm (`auto_confirm_at`). A pass reads
 * the due orders, not every PAID order of the last week.
 */
export function dueOrders(
  em: EntityManager,
  timer: OrderTimerName,
  limit: number,
  after = '',
): Promise<OrderId[]> {
  return query(em, dueOrdersQuery(timer, limit, after));
}

export function dueOrdersQuery(timer: OrderTimerName, limit: number, after = '') {
  const due =
    timer === 'paymentWindow'
      ? sql`${orderTagged('awaits-payment')} and expires_at <= now()`
      : sql`${orderTagged('auto-confirms')} and auto_confirm_at <= now()`;
  return sql<OrderId>`select id from orders o where ${due} ${after ? sql`and id > ${after}` : sql``}
      order by id limit ${limit}`;
}

/**
 * The sweep runs as a BullMQ job scheduler: one job per interval, whichever process takes it. Checked
 * every two intervals (a restarted Redis has lost it); registered only when missing or changed.
 */
export async function scheduleOrderSweep(ctx: AppContext): Promise<void> {
  // One sweep for all shards: it runs in whichever worker consumes shard 0.
  const home = mailboxFor(ctx.queues, 'order', {});
  const current = await home.getJobScheduler('order-sweep');
  if (current?.every === ctx.config.orderSweepIntervalMs) return;
  await home.upsertJobScheduler(
    'order-sweep',
    { every: ctx.config.orderSweepIntervalMs },
    { name: ORDER_SWEEP, data: {}, opts: { removeOnComplete: true, removeOnFail: 100 } },
  );
}

/**
 * The safety net under delayed jobs, which Redis can lose: PENDING orders whose payment window has
 * passed get EXPIRE, PAID orders due for auto-confirmation get AUTO_CONFIRM. The machine decides:
 * an order paying right now ignores EXPIRE, and its window waits for the payment's outcome.
 */
export async function sweepOrders(ctx: AppContext, log: Logger) {
  const em = ctx.orm.em.fork();
  const overdue = await dueOrders(em, 'paymentWindow', BATCH);
  const due = await dueOrders(em, 'autoConfirmDelay', BATCH);
  // Ids change every few intervals, so an order the machine ignored once is offered again later.
  const bucket = Math.floor(Date.now() / (ctx.config.orderSweepIntervalMs * 4));
  const jobs = [
    ...overdue.map(({ id }) => ({ id, type: 'EXPIRE' as const, jobId: `sweep-expire-${id}-${bucket}` })),
    ...due.map(({ id }) => ({ id, type: 'AUTO_CONFIRM' as const, jobId: `sweep-confirm-${id}-${bucket}` })),
  ];
  if (jobs.length > 0) {
    await addRoutedJobs(
      ctx.queues,
      'order',
      jobs.map((j) => ({
        name: ORDER_NOTICE,
        data: { orderId: j.id, event: { type: j.type } } satisfies OrderNotice,
        opts: { jobId: j.jobId },
      })),
    );
    log.info({ expired: overdue.length, autoConfirmed: due.length }, 'sweep found overdue orders');
  }
  const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
  await dropOldOrderSequences(em, businessDay(twoDaysAgo, ctx.config.timezone));
  // The scrape's orders-by-status sums the deltas since the last fold: keep them few.
  await foldOrderStatusCounts(em);
  return { expire: overdue.length, autoConfirm: due.length };
}
