import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { startBuyers } from '../support/buyers';
import { createProduct } from '../support/catalog';
import { settle } from '../support/invariants';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

describe('Redis shut down with NOSAVE under load and restarted empty', () => {
  let redis: PrivateRedis;
  let shop: TestShop;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    // The production recovery settings (locks, stalled checks, sweeps, acknowledgement deadline, gateway
    // timeout): what "in flight payments end within seconds" is about. Long payment windows, short replies.
    shop = await createTestShop({
      REDIS_URL: redis.url,
      WORKERS: 'all',
      PAYMENT_GATEWAY_LATENCY_MS: '1000',
      REPLY_TIMEOUT_MS: '1000',
      ORDER_PAYMENT_TIMEOUT_MS: '300000',
      // Events are not what the 15 s is about: a shorter deadline only makes the final check sooner.
      OUTBOX_ACK_DEADLINE_MS: '2000',
    });
  });
  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  it('loses no order, payment, event or command: every invariant holds once the buyers are done', async () => {
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
    const inFlight = async () =>
      (
        await query<{ id: string }>(
          em(),
          sql`select id from orders where state = 'PENDING.paying'
              or id in (select order_id from payments where status in ('REQUESTED', 'PROCESSING'))`,
        )
      ).map((o) => o.id);
    const paying = await inFlight();
    await redis.shutdownNosave();
    await new Promise((r) => setTimeout(r, 2000));
    await redis.start();
    const restartedAt = Date.now();

    // Every order whose payment was in flight when Redis died ends, its capture or notice re-derived
    // from PostgreSQL (≈ 12 s with these settings; the deadline leaves room for a busy machine).
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
      `redis restart: ${load.orderIds.length} orders, answers ${JSON.stringify([...load.statuses])}, ` +
        `slowest request ${load.slowestRequestMs} ms, ` +
        `the ${paying.length} payments in flight at the shutdown ended ${pendingPaymentsEndedAfterMs} ms after the ` +
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
  }, 180_000);
});
