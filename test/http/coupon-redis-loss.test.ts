import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBuyers, createCoupon, gateOf, issue, storedIssuance } from '../support/coupons';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { type ApiResponse, createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// FLUSHALL and restarts on a Redis of this file's own: the shared one serves every other test file.
let redis: PrivateRedis;
let shop: TestShop;
let seller: TestUser;
let admin: TestUser;
beforeAll(async () => {
  redis = await startPrivateRedis();
  shop = await createTestShop({ REDIS_URL: redis.url });
  [seller, admin] = await Promise.all([shop.createUser('SELLER'), shop.createUser('ADMIN')]);
});
afterAll(async () => {
  await shop?.close();
  await redis?.stop();
});

const resync = (couponId: string) =>
  shop.request('POST', `/api/v1/admin/coupons/${couponId}/resync`, { token: admin.token });

async function expectExactlyIssued(couponId: string, total: number, winners: string[]) {
  const stored = await storedIssuance(shop, couponId);
  expect(stored.issued_count).toBe(total);
  expect(stored.userIds).toHaveLength(total);
  expect(new Set(stored.userIds).size).toBe(total);
  expect(stored.userIds.sort()).toEqual([...new Set(winners)].sort());
  expect(winners).toHaveLength(total);
  return stored;
}

describe('a Redis FLUSHALL in the middle of a stampede never issues one too many or two to a buyer', () => {
  it('1,000 buyers, 100 coupons, FLUSHALL after the 30th issue while the rest commit and more arrive', async () => {
    const buyers = await createBuyers(shop, 1000);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 100 });
    const [first, second] = [buyers.slice(0, 600), buyers.slice(600)];

    // Redis decides the first wave at once; its winners then commit one by one. After the 30th
    // commit Redis loses everything, and a second wave arrives while the other winners still commit.
    let issued = 0;
    let secondWave: Promise<ApiResponse[]> | undefined;
    const firstWave = Promise.all(
      first.map(async (buyer) => {
        const res = await issue(shop, buyer, coupon.id);
        if (res.status === 201 && ++issued === 30) {
          await redis.flushAll();
          secondWave = Promise.all(second.map((b) => issue(shop, b, coupon.id)));
        }
        return res;
      }),
    );
    const answers = [...(await firstWave), ...(await secondWave!)];

    const winners = buyers.filter((_, i) => answers[i]!.status === 201).map((b) => b.id);
    for (const res of answers.filter((a) => a.status !== 201)) {
      expect(res.status).toBe(409);
      expect(['COUPON_SOLD_OUT', 'COUPON_ALREADY_ISSUED']).toContain(res.body.error);
    }
    // The second wave found no gate and rebuilt it from PostgreSQL by itself.
    expect((await gateOf(shop, coupon.id)).remaining).not.toBeNull();

    // Everyone tries again after the admin's resync: nobody gets a second one, nobody a 101st.
    expect((await resync(coupon.id)).body.data).toEqual({
      couponId: coupon.id,
      status: 'EXHAUSTED',
      issuedCount: 100,
      remaining: 0,
    });
    const retries = await Promise.all(buyers.map((b) => issue(shop, b, coupon.id)));
    expect(retries.filter((r) => r.status === 201)).toHaveLength(0);
    const retriedWinners = buyers.filter((_, i) => retries[i]!.body.error === 'COUPON_ALREADY_ISSUED');
    expect(retriedWinners.map((b) => b.id).sort()).toEqual([...winners].sort());

    const stored = await expectExactlyIssued(coupon.id, 100, winners);
    expect(stored.status).toBe('EXHAUSTED');
    const gate = await gateOf(shop, coupon.id);
    expect(gate.remaining).toBe(0);
    expect(gate.users.sort()).toEqual(stored.userIds.sort());
  });
});

describe('a Redis restart (empty, like a lost Redis) is repaired from PostgreSQL', () => {
  it('rebuilds the gate on the next request and keeps counting from PostgreSQL', async () => {
    const buyers = await createBuyers(shop, 30);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 20 });
    const before = await Promise.all(buyers.slice(0, 10).map((b) => issue(shop, b, coupon.id)));
    expect(before.every((r) => r.status === 201)).toBe(true);

    await redis.restart();
    // The API's connection reconnects by itself; a request may be refused with 503 meanwhile.
    const deadline = Date.now() + 30_000;
    while ((await shop.ctx.redis.ping().catch(() => null)) !== 'PONG') {
      if (Date.now() > deadline) throw new Error('the API did not reconnect to Redis');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await gateOf(shop, coupon.id)).toEqual({ users: [], remaining: null });

    const after = await Promise.all(buyers.map((b) => issue(shop, b, coupon.id)));
    const newWinners = buyers.filter((_, i) => after[i]!.status === 201).map((b) => b.id);
    expect(newWinners).toHaveLength(10);
    expect(after.slice(0, 10).every((r) => r.body.error === 'COUPON_ALREADY_ISSUED')).toBe(true);
    await expectExactlyIssued(coupon.id, 20, [...buyers.slice(0, 10).map((b) => b.id), ...newWinners]);
    expect((await gateOf(shop, coupon.id)).remaining).toBe(0);
  });
});
