import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { startBuyers } from '../support/buyers';
import { createProduct } from '../support/catalog';
import { settle } from '../support/invariants';
import { type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

describe('PostgreSQL stopped under load and started again', () => {
  let postgres: PrivatePostgres;
  let redis: PrivateRedis;
  let shop: TestShop;
  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    // The production recovery settings, as in redis-restart.test.ts; slow captures keep many in flight.
    shop = await createTestShop({
      PAYMENT_GATEWAY_LATENCY_MS: '1000',
      REPLY_TIMEOUT_MS: '1000',
      ORDER_PAYMENT_TIMEOUT_MS: '300000',
      // Events are not what the 15 s is about: a shorter deadline only makes the final check sooner.
      OUTBOX_ACK_DEADLINE_MS: '2000',
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      WORKERS: 'all',
    });
  }, 120_000);
  afterAll(async () => {
    await shop?.close().catch(() => undefined);
    await Promise.all([postgres?.destroy(), redis?.stop()]);
  }, 120_000);

  it('refuses what it cannot do, loses nothing, and every invariant holds once the buyers are done', async () => {
    const seller = await shop.createUser('SELLER');
    const products = await Promise.all(
      Array.from({ length: 4 }, () => createProduct(shop, seller, { stock: 1000 })),
    );
    const buyers = await Promise.all(Array.from({ length: 20 }, () => shop.createUser('BUYER')));
    const load = startBuyers(shop, buyers, products, { ordersEach: 3 });
    const em = () => shop.ctx.orm.em.fork();

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
    await postgres.stop();
    await new Promise((r) => setTimeout(r, 3000));
    await postgres.start();
    const restartedAt = Date.now();

    // Captures and notices that failed for good while PostgreSQL was away are offered again by the
    // payment sweep (≈ 12 s with these settings; the deadline leaves room for a busy machine).
    expect(paying.length).toBeGreaterThan(0);
    await eventually(
      async () => {
        const [row] = await query<{ open: number }>(
          em(),
          sql`select count(*)::int as open from orders
              where id = any(${paying}::uuid[]) and status not in ('PAID', 'CANCELLED')`,
        );
        return row!.open === 0;
      },
      25_000,
      100,
    );
    const pendingPaymentsEndedAfterMs = Date.now() - restartedAt;

    await load.done;
    const { violations, inFlightEndedAfterMs } = await settle(em, load.commandIds, 60_000);
    console.info(
      `postgres restart: ${load.orderIds.length} orders, answers ${JSON.stringify([...load.statuses])}, ` +
        `slowest request ${load.slowestRequestMs} ms, ` +
        `the ${paying.length} payments in flight at the stop ended ${pendingPaymentsEndedAfterMs} ms after the ` +
        `restart; all settled ${inFlightEndedAfterMs} ms after the buyers finished`,
    );
    expect(violations).toEqual([]);
    expect(new Set(load.orderIds).size).toBe(60);
    const statuses = await query<{ status: string; n: number }>(
      em(),
      sql`select status, count(*)::int as n from orders group by status`,
    );
    expect(statuses).toEqual([{ status: 'PAID', n: 60 }]);
    expect(load.statuses.get(500) ?? 0).toBe(0);
    // No connection was left checked out by a transaction the outage broke (else the pool starves).
    const pool = (await shop.ctx.orm.em.getConnection().getNativeClient()) as Pool;
    await eventually(async () => pool.totalCount === pool.idleCount, 10_000, 5);
  }, 180_000);
});
