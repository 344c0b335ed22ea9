import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { createProduct } from '../support/catalog';
import { createCoupon, issue } from '../support/coupons';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// A security review placed a ₩1,859,000 order of one seller's product at a total of 0 with a 100 %
// coupon another, self-registered seller had made: coupons discounted the whole order. A SELLER's
// coupon now discounts that seller's lines only; an ADMIN's coupon stays the platform's, for any order.
let shop: TestShop;
let victim: TestUser;
let rogue: TestUser;
let admin: TestUser;
let buyer: TestUser;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  [victim, rogue, admin, buyer] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('SELLER'),
    shop.createUser('ADMIN'),
    shop.createUser('BUYER', { balance: 10_000_000 }),
  ]);
});
afterAll(() => shop?.close());

async function userCouponOf(creator: TestUser, terms: Record<string, unknown>) {
  const coupon = await createCoupon(shop, creator, terms);
  expect((coupon as { sellerId?: string | null }).sellerId).toBe(
    creator.role === 'SELLER' ? creator.id : null,
  );
  const issued = await issue(shop, buyer, coupon.id);
  expect(issued.status).toBe(201);
  return issued.body.data.id as string;
}

const place = (items: { productId: string; quantity: number }[], userCouponId: string) =>
  shop.request('POST', '/api/v1/orders', { token: buyer.token, body: { items, userCouponId } });

const heldBy = async (userCouponId: string) =>
  (
    await query<{ order_id: string | null }>(
      shop.ctx.orm.em.fork(),
      sql`select order_id from user_coupons where id = ${userCouponId}`,
    )
  )[0]!.order_id;

const FREE = { discountType: 'PERCENTAGE', discountValue: 100, maxDiscount: null, minOrderAmount: 0 };

describe("a seller's coupon and another seller's products", () => {
  it('refuses a 100 % coupon of one seller on an order of another seller’s product, writing nothing', async () => {
    const expensive = await createProduct(shop, victim, { price: 1_859_000, stock: 5 });
    const userCouponId = await userCouponOf(rogue, FREE);
    const refused = await place([{ productId: expensive, quantity: 1 }], userCouponId);
    expect([refused.status, refused.body.error]).toEqual([400, 'COUPON_NOT_APPLICABLE']);
    expect(await heldBy(userCouponId)).toBeNull();
    const inventory = await shop.request('GET', `/api/v1/inventory/${expensive}`, { token: victim.token });
    expect(inventory.body.data.reserved).toBe(0);
  });

  it("discounts only the coupon's seller's lines of a mixed order", async () => {
    const own = await createProduct(shop, rogue, { price: 10_000, stock: 5 });
    const others = await createProduct(shop, victim, { price: 50_000, stock: 5 });
    const userCouponId = await userCouponOf(rogue, {
      discountType: 'PERCENTAGE',
      discountValue: 10,
      maxDiscount: null,
      minOrderAmount: 0,
    });
    const placed = await place(
      [
        { productId: own, quantity: 1 },
        { productId: others, quantity: 1 },
      ],
      userCouponId,
    );
    expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    expect(placed.body.data).toMatchObject({ subtotal: 60_000, discount: 1_000, total: 59_000 });
  });

  it("holds minOrderAmount against the coupon's seller's lines, not the whole order", async () => {
    const own = await createProduct(shop, rogue, { price: 10_000, stock: 5 });
    const others = await createProduct(shop, victim, { price: 50_000, stock: 5 });
    const userCouponId = await userCouponOf(rogue, { ...FREE, discountValue: 10, minOrderAmount: 20_000 });
    const refused = await place(
      [
        { productId: own, quantity: 1 },
        { productId: others, quantity: 1 },
      ],
      userCouponId,
    );
    expect([refused.status, refused.body.error]).toEqual([400, 'COUPON_NOT_APPLICABLE']);
  });

  it('lets a seller’s 100 % coupon make that seller’s own product free (their own money)', async () => {
    const own = await createProduct(shop, rogue, { price: 7_000, stock: 5 });
    const userCouponId = await userCouponOf(rogue, FREE);
    const placed = await place([{ productId: own, quantity: 1 }], userCouponId);
    expect(placed.status).toBe(201);
    expect(placed.body.data).toMatchObject({ subtotal: 7_000, discount: 7_000, total: 0 });
  });
});

describe("an ADMIN's coupon", () => {
  it('discounts the whole order, whoever sells its lines', async () => {
    const a = await createProduct(shop, rogue, { price: 10_000, stock: 5 });
    const b = await createProduct(shop, victim, { price: 50_000, stock: 5 });
    const userCouponId = await userCouponOf(admin, { ...FREE, discountValue: 10 });
    const placed = await place(
      [
        { productId: a, quantity: 1 },
        { productId: b, quantity: 1 },
      ],
      userCouponId,
    );
    expect(placed.status).toBe(201);
    expect(placed.body.data).toMatchObject({ subtotal: 60_000, discount: 6_000, total: 54_000 });
  });
});

describe("an ADMIN's suspension of a seller's coupon", () => {
  const setStatus = (who: TestUser, couponId: string, status: string) =>
    shop.request('PATCH', `/api/v1/coupons/${couponId}/status`, { token: who.token, body: { status } });

  it('sticks: the seller cannot resume it, an ADMIN can; the seller’s own pause is theirs to lift', async () => {
    const coupon = await createCoupon(shop, rogue, FREE);
    expect((await setStatus(admin, coupon.id, 'SUSPENDED')).body.data.status).toBe('SUSPENDED');
    const resumed = await setStatus(rogue, coupon.id, 'ACTIVE');
    expect([resumed.status, resumed.body.error]).toEqual([403, 'FORBIDDEN']);
    expect((await shop.request('GET', `/api/v1/coupons/${coupon.id}`)).body.data.status).toBe('SUSPENDED');

    expect((await setStatus(admin, coupon.id, 'ACTIVE')).body.data.status).toBe('ACTIVE');
    expect((await setStatus(rogue, coupon.id, 'SUSPENDED')).body.data.status).toBe('SUSPENDED');
    expect((await setStatus(rogue, coupon.id, 'ACTIVE')).body.data.status).toBe('ACTIVE');
  });
});
