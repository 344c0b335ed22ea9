import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { countOrdersByStatus, foldOrderStatusCounts } from '../../src/orders/order-status-counts';
import { sweepOrders } from '../../src/orders/order-sweep';
import { createProduct } from '../support/catalog';
import { databaseUrl } from '../support/databases';
import { testSeed } from '../support/seed';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// The scrape's orders-by-status comes from counts that triggers on `orders` keep (the migration
// order_status_counts), folded by the order sweep: these tests hold them to `count(*) group by
// status` through the shop's own writers and through concurrent writers, rollbacks and folds.
const SEED = testSeed('order-status-counts');

let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
beforeAll(async () => {
  // The order sweep (which folds) runs once at start-up; after that the tests fold.
  shop = await createTestShop({ WORKERS: 'all', ORDER_SWEEP_INTERVAL_MS: '3600000' });
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER', { balance: 1_000_000 });
});
afterAll(() => shop?.close());

const em = () => shop.ctx.orm.em.fork();

async function countedByScan(): Promise<Map<string, number>> {
  const rows = await query<{ status: string; count: number }>(
    em(),
    sql`select status, count(*)::int as count from orders group by status`,
  );
  return new Map(rows.map((r) => [r.status, r.count]));
}

/** The kept counts without the statuses that net to zero (a status every order has left). */
async function kept(): Promise<Map<string, number>> {
  return new Map([...(await countOrdersByStatus(em()))].filter(([, n]) => n !== 0));
}

async function expectCountsTrue(label: string) {
  expect(await kept(), `${label} (seed ${SEED})`).toEqual(await countedByScan());
}

describe('orders by status through the shop', () => {
  it('follows placements, payments and cancellations, before and after the order sweep folds them', async () => {
    const productId = await createProduct(shop, seller, { stock: 100, price: 1000 });
    const place = async () => {
      const res = await shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: { items: [{ productId, quantity: 1 }] },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.data.id as string;
    };
    const placed = await Promise.all(Array.from({ length: 6 }, place));
    const [paid, cancelled] = placed;
    const pay = await shop.request('POST', '/api/v1/payments', {
      token: buyer.token,
      headers: { 'idempotency-key': uuidv7() },
      body: { orderId: paid, method: 'BALANCE' },
    });
    expect(pay.status, JSON.stringify(pay.body)).toBeLessThan(300);
    const cancel = await shop.request('POST', `/api/v1/orders/${cancelled}/cancel`, { token: buyer.token });
    expect(cancel.status, JSON.stringify(cancel.body)).toBeLessThan(300);
    await eventually(async () => {
      const scanned = await countedByScan();
      return scanned.get('PAID') === 1 && scanned.get('CANCELLED') === 1;
    });

    expect(await countedByScan()).toEqual(
      new Map([
        ['PENDING', 4],
        ['PAID', 1],
        ['CANCELLED', 1],
      ]),
    );
    await expectCountsTrue('before the fold');
    const [before] = await query<{ n: number }>(
      em(),
      sql`select count(*)::int as n from order_status_deltas`,
    );
    expect(before!.n).toBeGreaterThan(0);
    await sweepOrders(shop.ctx, shop.ctx.log); // the order sweep folds
    await expectCountsTrue('after the fold');
    const [deltas] = await query<{ n: number }>(
      em(),
      sql`select count(*)::int as n from order_status_deltas`,
    );
    expect(deltas!.n).toBe(0);
  });
});

/** mulberry32: small, seedable, good enough to pick test scenarios. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES = ['PENDING', 'PAID', 'CONFIRMED', 'CANCELLED'] as const;

describe(`orders by status under concurrent writers, rollbacks and folds (seed ${SEED})`, () => {
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(shop.databaseName), max: 10 });
    // pool.end() resolves before its clients' sockets have closed; the test database's drop (which
    // terminates its sessions) may then reach a closing client, whose error must not go uncaught.
    pool.on('error', () => undefined);
  });
  afterAll(() => pool?.end());

  it('stays equal to a scan of the orders', async () => {
    const random = prng(SEED);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    let serial = 0;

    // Each writer: transactions that insert orders (several per statement), change the status of
    // some, touch others without changing their status, delete a few; one in five rolls back.
    const writer = async () => {
      const client = await pool.connect();
      try {
        for (let t = 0; t < 25; t++) {
          await client.query('begin');
          const rows = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({
            id: uuidv7(),
            status: pick(STATUSES),
            no: `T${(serial++).toString().padStart(12, '0')}`,
          }));
          await client.query(
            `insert into orders (id, order_no, user_id, status, state, snapshot, machine_version, subtotal, total,
                                 expires_at, created_at, updated_at)
             select id, no, $1, status, 'fixture', '{}', 1, 0, 0, now(), now(), now()
             from unnest($2::uuid[], $3::text[], $4::text[]) as r(id, no, status)`,
            [buyer.id, rows.map((r) => r.id), rows.map((r) => r.no), rows.map((r) => r.status)],
          );
          const target = pick(STATUSES);
          await client.query(
            `update orders set status = $1, updated_at = now()
             where id in (select id from orders where user_id = $2 order by random() limit $3 for update skip locked)`,
            [target, buyer.id, 1 + Math.floor(random() * 3)],
          );
          await client.query(
            `update orders set updated_at = now() where id in (select id from orders where user_id = $1 limit 2 for update skip locked)`,
            [buyer.id],
          );
          if (random() < 0.3) {
            await client.query(
              `delete from orders where id = (select id from orders o where user_id = $1 and state = 'fixture'
                                              and not exists (select 1 from order_items i where i.order_id = o.id)
                                              limit 1 for update skip locked)`,
              [buyer.id],
            );
          }
          await client.query(random() < 0.2 ? 'rollback' : 'commit');
        }
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    };

    let writing = true;
    let folds = 0;
    const folder = (async () => {
      while (writing) {
        await foldOrderStatusCounts(em());
        folds++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await Promise.all(Array.from({ length: 8 }, writer));
    writing = false;
    await folder;
    expect(folds).toBeGreaterThan(0);

    await expectCountsTrue('after the writers');
    await foldOrderStatusCounts(em());
    await expectCountsTrue('after a last fold');
  });

  it('forgets everything when the orders are truncated', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const placed = await shop.request('POST', '/api/v1/orders', {
      token: buyer.token,
      body: { items: [{ productId, quantity: 1 }] },
    });
    expect(placed.status).toBe(201);
    expect((await kept()).get('PENDING')).toBeGreaterThan(0);
    await query(em(), sql`truncate orders cascade`);
    expect(await countedByScan()).toEqual(new Map());
    expect(await kept()).toEqual(new Map());
  });
});
