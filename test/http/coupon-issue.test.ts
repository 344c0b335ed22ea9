import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { couponGateKeys, dropCouponGate } from '../../src/coupons/coupon-gate';
import { query, sql } from '../../src/db/sql';
import { createBuyers, createCoupon, gateOf, issue, storedIssuance, waitFor } from '../support/coupons';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

const RATE = 5;

let shop: TestShop;
let seller: TestUser;
beforeAll(async () => {
  shop = await createTestShop({ COUPON_ISSUE_RATE_PER_MIN: String(RATE) });
  seller = await shop.createUser('SELLER');
});
afterAll(() => shop?.close());

async function issuedEvents(couponId: string) {
  return query<{ payload: { userId: string; userCouponId: string } }>(
    shop.ctx.orm.em.fork(),
    sql`select payload from outbox_events where aggregate_id = ${couponId} and type = 'COUPON_ISSUED'`,
  );
}

describe('a buyer is issued one coupon, durable in PostgreSQL before the 201', () => {
  it('answers 201 with the user coupon, writes its row, counts it and emits COUPON_ISSUED', async () => {
    const buyer = await shop.createUser('BUYER');
    const coupon = await createCoupon(shop, seller, { totalQuantity: 10 });
    const res = await issue(shop, buyer, coupon.id);
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      status: 'ISSUED',
      usedAt: null,
      orderId: null,
      coupon: { id: coupon.id, issuedCount: 1, remaining: 9, status: 'ACTIVE' },
    });
    const stored = await storedIssuance(shop, coupon.id);
    expect(stored).toMatchObject({ issued_count: 1, userIds: [buyer.id] });
    expect((await issuedEvents(coupon.id)).map((e) => e.payload)).toEqual([
      { couponId: coupon.id, userCouponId: res.body.data.id, userId: buyer.id },
    ]);
    expect(await gateOf(shop, coupon.id)).toEqual({ users: [buyer.id], remaining: 9 });
  });

  it('answers 409 COUPON_ALREADY_ISSUED to a second request of the same buyer', async () => {
    const buyer = await shop.createUser('BUYER');
    const coupon = await createCoupon(shop, seller);
    expect((await issue(shop, buyer, coupon.id)).status).toBe(201);
    const again = await issue(shop, buyer, coupon.id);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('COUPON_ALREADY_ISSUED');
    expect((await storedIssuance(shop, coupon.id)).issued_count).toBe(1);
  });

  it('marks the coupon EXHAUSTED with the last one and answers 409 COUPON_SOLD_OUT, in Korean when asked', async () => {
    const [first, second] = await createBuyers(shop, 2);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 1 });
    const won = await issue(shop, first!, coupon.id);
    expect(won.body.data.coupon).toMatchObject({ status: 'EXHAUSTED', remaining: 0 });
    const lost = await issue(shop, second!, coupon.id, { 'accept-language': 'ko-KR,ko;q=0.9' });
    expect(lost.status).toBe(409);
    expect(lost.body).toMatchObject({ error: 'COUPON_SOLD_OUT', message: '쿠폰이 모두 소진되었습니다' });
    const english = await issue(shop, second!, coupon.id);
    expect(english.body.message).toBe('The coupons are all gone');
    // The holder is still told it already has one, not that none are left.
    expect((await issue(shop, first!, coupon.id)).body.error).toBe('COUPON_ALREADY_ISSUED');
  });

  it('answers 400 COUPON_NOT_APPLICABLE before its window and 404 for an unknown coupon', async () => {
    const buyer = await shop.createUser('BUYER');
    const later = await createCoupon(shop, seller, {
      validFrom: new Date(Date.now() + 3600_000).toISOString(),
    });
    const early = await issue(shop, buyer, later.id);
    expect(early.status).toBe(400);
    expect(early.body.error).toBe('COUPON_NOT_APPLICABLE');
    expect((await issue(shop, buyer, crypto.randomUUID())).body.error).toBe('COUPON_NOT_FOUND');
    expect((await issue(shop, buyer, 'nope')).status).toBe(400);
  });

  it('starts a CREATED coupon whose window has opened when it is issued, should its activation be late', async () => {
    const buyer = await shop.createUser('BUYER');
    const coupon = await createCoupon(shop, seller, {
      validFrom: new Date(Date.now() + 3600_000).toISOString(),
    });
    await query(
      shop.ctx.orm.em.fork(),
      sql`update coupons set valid_from = now() - interval '1 minute' where id = ${coupon.id}`,
    );
    // A window never changes in the product; this test moved it, so the gate must be rebuilt.
    await dropCouponGate(shop.ctx, coupon.id);
    const res = await issue(shop, buyer, coupon.id);
    expect(res.status).toBe(201);
    expect(res.body.data.coupon.status).toBe('ACTIVE');
  });

  it('is for buyers only', async () => {
    const coupon = await createCoupon(shop, seller);
    expect((await issue(shop, seller, coupon.id)).status).toBe(403);
    expect((await shop.request('POST', `/api/v1/coupons/${coupon.id}/issue`)).status).toBe(401);
  });
});

describe('the issue endpoint is rate limited per user', () => {
  it(`answers 429 RATE_LIMITED past ${RATE} requests a minute, across coupons`, async () => {
    const buyer = await shop.createUser('BUYER');
    const coupons = await Promise.all([createCoupon(shop, seller), createCoupon(shop, seller)]);
    expect((await issue(shop, buyer, coupons[0]!.id)).status).toBe(201);
    for (let i = 1; i < RATE; i++) expect((await issue(shop, buyer, coupons[0]!.id)).status).toBe(409);
    const limited = await issue(shop, buyer, coupons[1]!.id);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('RATE_LIMITED');
    expect((await storedIssuance(shop, coupons[1]!.id)).issued_count).toBe(0);
    // Another buyer is not affected.
    expect((await issue(shop, await shop.createUser('BUYER'), coupons[1]!.id)).status).toBe(201);
  });
});

describe('PostgreSQL has the last word when the gate is wrong', () => {
  it('refuses with 409 COUPON_SOLD_OUT when the gate thinks some are left, and sets the gate to 0', async () => {
    const [first, second] = await createBuyers(shop, 2);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 1 });
    await issue(shop, first!, coupon.id);
    await shop.ctx.redis.set(couponGateKeys(shop.ctx, coupon.id).remaining, 5);
    const res = await issue(shop, second!, coupon.id);
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('COUPON_SOLD_OUT');
    expect(await storedIssuance(shop, coupon.id)).toMatchObject({ issued_count: 1, userIds: [first!.id] });
    expect(await gateOf(shop, coupon.id)).toEqual({ users: [first!.id], remaining: 0 });
  });

  it('refuses with 409 COUPON_ALREADY_ISSUED when the gate forgot a holder, and remembers them again', async () => {
    const buyer = await shop.createUser('BUYER');
    const coupon = await createCoupon(shop, seller, { totalQuantity: 5 });
    await issue(shop, buyer, coupon.id);
    await shop.ctx.redis.srem(couponGateKeys(shop.ctx, coupon.id).users, buyer.id);
    const res = await issue(shop, buyer, coupon.id);
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('COUPON_ALREADY_ISSUED');
    expect(await gateOf(shop, coupon.id)).toEqual({ users: [buyer.id], remaining: 4 });
    expect((await storedIssuance(shop, coupon.id)).issued_count).toBe(1);
  });

  it('hands the claim back when the coupon is suspended between the gate and the commit', async () => {
    const buyer = await shop.createUser('BUYER');
    const coupon = await createCoupon(shop, seller, { totalQuantity: 5 });
    const keys = couponGateKeys(shop.ctx, coupon.id);
    let request: ReturnType<typeof issue> | undefined;
    // Hold the coupon row so the issuing transaction waits after the Redis claim, then suspend it.
    await shop.ctx.orm.em.fork().transactional(async (tx) => {
      await query(tx, sql`select id from coupons where id = ${coupon.id} for update`);
      request = issue(shop, buyer, coupon.id);
      await waitFor(async () => (await shop.ctx.redis.sismember(keys.users, buyer.id)) === 1, 'the claim');
      await query(tx, sql`update coupons set status = 'SUSPENDED' where id = ${coupon.id}`);
    });
    const res = await request!;
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('COUPON_NOT_APPLICABLE');
    expect(await storedIssuance(shop, coupon.id)).toMatchObject({ issued_count: 0, userIds: [] });
    expect(await issuedEvents(coupon.id)).toHaveLength(0);
    expect(await gateOf(shop, coupon.id)).toEqual({ users: [], remaining: 5 });
  });

  it('builds a missing gate from PostgreSQL on the first request', async () => {
    const [first, second] = await createBuyers(shop, 2);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 3 });
    await issue(shop, first!, coupon.id);
    await shop.ctx.redis.del(...Object.values(couponGateKeys(shop.ctx, coupon.id)));
    expect((await issue(shop, first!, coupon.id)).body.error).toBe('COUPON_ALREADY_ISSUED');
    expect((await issue(shop, second!, coupon.id)).status).toBe(201);
    const gate = await gateOf(shop, coupon.id);
    expect({ users: gate.users.sort(), remaining: gate.remaining }).toEqual({
      users: [first!.id, second!.id].sort(),
      remaining: 1,
    });
  });
});

describe('a stampede: 1,000 concurrent buyers for 100 coupons', () => {
  it('issues exactly 100, one per buyer, in PostgreSQL and Redis alike', async () => {
    const buyers = await createBuyers(shop, 1000);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 100 });
    const answers = await Promise.all(buyers.map((b) => issue(shop, b, coupon.id)));

    const won = buyers.filter((_, i) => answers[i]!.status === 201).map((b) => b.id);
    const statuses = answers.map((a) => (a.status === 201 ? 201 : `${a.status} ${a.body.error}`));
    expect(won).toHaveLength(100);
    expect(statuses.filter((s) => s !== 201).every((s) => s === '409 COUPON_SOLD_OUT')).toBe(true);

    const stored = await storedIssuance(shop, coupon.id);
    expect(stored.issued_count).toBe(100);
    expect(stored.status).toBe('EXHAUSTED');
    expect(new Set(stored.userIds).size).toBe(100);
    expect(stored.userIds.sort()).toEqual(won.sort());
    const gate = await gateOf(shop, coupon.id);
    expect(gate.remaining).toBe(0);
    expect(gate.users.sort()).toEqual(won.sort());
    expect(await issuedEvents(coupon.id)).toHaveLength(100);
  });
});

describe('GET /coupons/mine lists the caller’s coupons', () => {
  it('answers [{id, coupon, status, issuedAt, usedAt, orderId}] newest first, filtered by status', async () => {
    const buyer = await shop.createUser('BUYER');
    const [a, b] = [await createCoupon(shop, seller), await createCoupon(shop, seller)];
    const first = (await issue(shop, buyer, a.id)).body.data;
    const second = (await issue(shop, buyer, b.id)).body.data;
    await query(
      shop.ctx.orm.em.fork(),
      sql`update user_coupons set status = 'EXPIRED' where id = ${first.id}`,
    );

    const all = await shop.request('GET', '/api/v1/coupons/mine', { token: buyer.token });
    expect(all.status).toBe(200);
    expect(all.body.data.map((c: { id: string }) => c.id)).toEqual([second.id, first.id]);
    expect(all.body.data[0]).toEqual({
      id: second.id,
      coupon: expect.objectContaining({ id: b.id, code: b.code }),
      status: 'ISSUED',
      issuedAt: second.issuedAt,
      usedAt: null,
      orderId: null,
    });
    const expired = await shop.request('GET', '/api/v1/coupons/mine?status=EXPIRED', { token: buyer.token });
    expect(expired.body.data.map((c: { id: string }) => c.id)).toEqual([first.id]);
  });

  it('shows nobody else’s coupons, needs a token and refuses an unknown status', async () => {
    const other = await shop.createUser('BUYER');
    expect((await shop.request('GET', '/api/v1/coupons/mine', { token: other.token })).body.data).toEqual([]);
    expect((await shop.request('GET', '/api/v1/coupons/mine')).status).toBe(401);
    const bad = await shop.request('GET', '/api/v1/coupons/mine?status=LOST', { token: other.token });
    expect(bad.status).toBe(400);
  });
});
