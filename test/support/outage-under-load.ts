import { query, sql } from '../../src/db/sql';
import { startBuyers } from './buyers';
import { createProduct } from './catalog';
import { settle } from './invariants';
import type { TestShop } from './test-shop';
import { eventually } from './worker-process';

/**
 * The production recovery settings (locks, stalled checks, sweeps, gateway timeout) with slow
 * captures that keep many payments in flight, long payment windows and short replies: what
 * "in-flight payments end within seconds of an outage" is about. Events are not what the bound is
 * about: a short acknowledgement deadline only makes the final check sooner.
 */
export const OUTAGE_TEST_ENV = {
  WORKERS: 'all',
  PAYMENT_GATEWAY_LATENCY_MS: '1000',
  REPLY_TIMEOUT_MS: '1000',
  ORDER_PAYMENT_TIMEOUT_MS: '300000',
  OUTBOX_ACK_DEADLINE_MS: '2000',
};

export interface OutageOutcome {
  load: ReturnType<typeof startBuyers>;
  /** Orders whose payment was in flight when the outage struck (never empty). */
  paying: string[];
  violations: Awaited<ReturnType<typeof settle>>['violations'];
  statuses: { status: string; n: number }[];
}

/**
 * 20 buyers place and pay 3 orders each; once payments are in flight, `outage` stops and restarts a
 * dependency. Waits (within `recoveryMs`) until every order that was paying has ended, then until the
 * buyers are done and the shop has settled, and returns what the caller asserts on: the SPEC §8
 * violations found in the shop's own tables and the orders by status.
 */
export async function outageUnderLoad(
  shop: TestShop,
  label: string,
  outage: () => Promise<void>,
  recoveryMs = 25_000,
): Promise<OutageOutcome> {
  const seller = await shop.createUser('SELLER');
  const products = await Promise.all(
    Array.from({ length: 4 }, () => createProduct(shop, seller, { stock: 1000 })),
  );
  const buyers = await Promise.all(Array.from({ length: 20 }, () => shop.createUser('BUYER')));
  const load = startBuyers(shop, buyers, products, { ordersEach: 3 });
  const em = () => shop.ctx.orm.em.fork();

  // Strike while payments are in flight and events are on their way.
  await eventually(
    async () => {
      const [row] = await query<{ orders: number; paying: number }>(
        em(),
        sql`select (select count(*)::int from orders) as orders,
                 (select count(*)::int from payments where status in ('REQUESTED', 'PROCESSING')) as paying`,
      );
      return row!.orders >= 15 && row!.paying >= 5;
    },
    30_000,
    20,
  );
  const paying = (
    await query<{ id: string }>(
      em(),
      sql`select id from orders where state = 'PENDING.paying'
          or id in (select order_id from payments where status in ('REQUESTED', 'PROCESSING'))`,
    )
  ).map((o) => o.id);
  if (paying.length === 0) throw new Error('no payment was in flight when the outage struck');
  await outage();
  const restartedAt = Date.now();

  // Every order whose payment was in flight ends, its capture or notice re-derived from PostgreSQL.
  await eventually(
    async () => {
      const [row] = await query<{ open: number }>(
        em(),
        sql`select count(*)::int as open from orders
            where id = any(${paying}::uuid[]) and status not in ('PAID', 'CANCELLED')`,
      );
      return row!.open === 0;
    },
    recoveryMs,
    100,
  );
  const payingEndedAfterMs = Date.now() - restartedAt;

  await load.done;
  const { violations, inFlightEndedAfterMs } = await settle(em, load.commandIds, 60_000);
  console.info(
    `${label}: ${load.orderIds.length} orders, answers ${JSON.stringify([...load.statuses])}, ` +
      `slowest request ${load.slowestRequestMs} ms, the ${paying.length} payments in flight at the ` +
      `outage ended ${payingEndedAfterMs} ms after the restart; all settled ${inFlightEndedAfterMs} ms ` +
      'after the buyers finished',
  );
  const statuses = await query<{ status: string; n: number }>(
    em(),
    sql`select status, count(*)::int as n from orders group by status`,
  );
  return { load, paying, violations, statuses };
}
