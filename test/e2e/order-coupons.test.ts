import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { createProduct } from '../support/catalog';
import { createCoupon, issue, waitFor } from '../support/coupons';
import { databaseUrl } from '../support/databases';
import { markPaid } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
let productId: string;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'order,coupon' });
  seller = await shop.createUser('SELLER');
  productId = await createProduct(shop, seller, { price: 20_000, stock: 1000 });
});
afterAll(() => shop?.close());

async function buyerWithCoupon(overrides: Record<string, unknown> = {}) {
  const buyer = await shop.createUser('BUYER');
  const coupon = await createCoupon(shop, seller, overrides);
  const issued = await issue(shop, buyer, coupon.id);
  expect(issued.status).toBe(201);
  return { buyer, coupon, userCouponId: issued.body.data.id as string };
}

const place = (buyer: TestUser, quantity: number, userCouponId?: string) =>
  shop.request('POST', '/api/v1/orders', {
    token: buyer.token,
    body: { items: [{ productId, quantity }], ...(userCouponId ? { userCouponId } : {}) },
  });

const userCoupon = async (id: string) =>
  (
    await query<{ status: string; order_id: string | null }>(
      shop.ctx.orm.em.fork(),
      sql`select status, order_id from user_coupons where id = ${id}`,
    )
  )[0]!;

describe('applying a coupon at placement', () => {
  it('discounts the order (10 % capped at 5,000) and holds the coupon for it', async () => {
    const { buyer, coupon, userCouponId } = await buyerWithCoupon();
    const res = await place(buyer, 3, userCouponId);
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      subtotal: 60_000,
      discount: 5000,
      total: 55_000,
      coupon: { userCouponId, code: coupon.code, discount: 5000 },
    });
    expect(await userCoupon(userCouponId)).toEqual({ status: 'ISSUED', order_id: res.body.data.id });
  });

  it('gives the coupon back (ISSUED, usable again) when the PENDING order is cancelled', async () => {
    const { buyer, userCouponId } = await buyerWithCoupon();
    const first = await place(buyer, 1, userCouponId);
    await shop.request('POST', `/api/v1/orders/${first.body.data.id}/cancel`, { token: buyer.token });
    expect(await userCoupon(userCouponId)).toEqual({ status: 'ISSUED', order_id: null });
    expect((await place(buyer, 1, userCouponId)).status).toBe(201);
  });

  it('marks it USED when the order is paid', async () => {
    const { buyer, userCouponId } = await buyerWithCoupon();
    const order = (await place(buyer, 1, userCouponId)).body.data;
    await markPaid(shop, buyer, order.id, order.total);
    expect((await userCoupon(userCouponId)).status).toBe('USED');
    const again = await place(buyer, 1, userCouponId);
    expect([again.status, again.body.error]).toEqual([400, 'COUPON_ALREADY_USED']);
  });

  it('lets exactly one of two racing orders use one user coupon; the other is refused whole', async () => {
    const { buyer, userCouponId } = await buyerWithCoupon();
    // The race made certain: the user coupon's row is held until several placements, each past its
    // coupon check, wait to take it; then they go at once and the row decides.
    const holder = new pg.Client({ connectionString: databaseUrl(shop.databaseName) });
    await holder.connect();
    await holder.query('begin');
    await holder.query('select id from user_coupons where id = $1 for update', [userCouponId]);
    const racing = Promise.all(Array.from({ length: 6 }, () => place(buyer, 1, userCouponId)));
    try {
      await waitFor(async () => {
        await holder.query('select pg_stat_clear_snapshot()');
        const { rows } = await holder.query(
          `select count(*)::int as n from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock' and query like '%user_coupons%'`,
        );
        return rows[0].n >= 2;
      }, 'two placements waiting for the user coupon');
    } finally {
      await holder.query('commit');
      await holder.end();
    }
    const answers = await racing;
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused.every((a) => a.status === 400 && a.body.error === 'COUPON_ALREADY_USED')).toBe(true);
    const [{ n }] = (await query<{ n: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as n from orders where user_coupon_id = ${userCouponId}`,
    )) as [{ n: number }];
    expect(n).toBe(1);
  });

  it('refuses a coupon below its minimum order amount, or someone else’s, with 400', async () => {
    const { buyer, userCouponId } = await buyerWithCoupon({ minOrderAmount: 50_000 });
    const small = await place(buyer, 1, userCouponId);
    expect([small.status, small.body.error]).toEqual([400, 'COUPON_NOT_APPLICABLE']);
    const stranger = await shop.createUser('BUYER');
    const theirs = await place(stranger, 5, userCouponId);
    expect([theirs.status, theirs.body.error]).toEqual([400, 'COUPON_NOT_APPLICABLE']);
    expect((await place(buyer, 1, crypto.randomUUID())).status).toBe(400);
  });

  it('never discounts more than the subtotal (FIXED above the subtotal)', async () => {
    const { buyer, userCouponId } = await buyerWithCoupon({
      discountType: 'FIXED',
      discountValue: 30_000,
      maxDiscount: undefined,
      minOrderAmount: 0,
    });
    const res = await place(buyer, 1, userCouponId);
    expect(res.body.data).toMatchObject({ subtotal: 20_000, discount: 20_000, total: 0 });
  });
});
