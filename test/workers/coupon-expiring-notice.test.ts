import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepCoupons } from '../../src/coupons/coupon-expiry';
import { query, sql } from '../../src/db/sql';
import { createProduct } from '../support/catalog';
import { createCoupon, issue } from '../support/coupons';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'order' });
  seller = await shop.createUser('SELLER');
});
afterAll(() => shop?.close());

const HOUR = 3600_000;
const notices = async (userId: string) =>
  query<{ type: string; title: string; body: string }>(
    shop.ctx.orm.em.fork(),
    sql`select type, title, body from notifications where user_id = ${userId} and type = 'COUPON_EXPIRING'`,
  );

describe('COUPON_EXPIRING notifications (API.md "Notifications")', () => {
  it('tells each holder of an unused coupon once, within a day of its end, and nobody else', async () => {
    const closing = await createCoupon(shop, seller, {
      validUntil: new Date(Date.now() + 2 * HOUR).toISOString(),
    });
    const lasting = await createCoupon(shop, seller, {
      validUntil: new Date(Date.now() + 72 * HOUR).toISOString(),
    });
    const [holder, spender, other] = await Promise.all([
      shop.createUser('BUYER'),
      shop.createUser('BUYER'),
      shop.createUser('BUYER'),
    ]);
    for (const buyer of [holder, spender]) expect((await issue(shop, buyer, closing.id)).status).toBe(201);
    expect((await issue(shop, other, lasting.id)).status).toBe(201);
    // The spender's coupon is held by a PENDING order: it is being used, nobody needs reminding.
    const productId = await createProduct(shop, seller, { price: 50_000 });
    const mine = await shop.request('GET', '/api/v1/coupons/mine', { token: spender.token });
    await placeOrder(shop, spender, [{ productId, quantity: 1 }], mine.body.data[0].id);

    const first = await sweepCoupons(shop.ctx);
    expect(first.expiringNotices).toBe(1);
    expect(await notices(holder.id)).toEqual([
      expect.objectContaining({ type: 'COUPON_EXPIRING', title: 'Coupon expiring soon' }),
    ]);
    expect((await notices(holder.id))[0]!.body).toContain(closing.code);
    expect(await notices(spender.id)).toEqual([]);
    expect(await notices(other.id)).toEqual([]);

    expect((await sweepCoupons(shop.ctx)).expiringNotices).toBe(0);
    const listed = await shop.request('GET', '/api/v1/notifications', { token: holder.token });
    expect(listed.body.data.map((n: { type: string }) => n.type)).toContain('COUPON_EXPIRING');
    const inKorean = await shop.request('GET', '/api/v1/notifications', {
      token: holder.token,
      headers: { 'accept-language': 'ko' },
    });
    const notice = inKorean.body.data.find((n: { type: string }) => n.type === 'COUPON_EXPIRING');
    expect(notice.title).toBe('쿠폰 만료 예정');
    expect(notice.body).toContain(closing.code);
    expect(notice.body).toContain('사용 기한');
  });
});
