import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { couponGateKeys } from '../../src/coupons/coupon-gate';
import { rebuildAllCouponGates } from '../../src/coupons/coupon-gate-rebuild';
import { query, sql } from '../../src/db/sql';
import { couponBody, createCoupon, gateOf, issue } from '../support/coupons';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
let otherSeller: TestUser;
let admin: TestUser;
let buyer: TestUser;
beforeAll(async () => {
  shop = await createTestShop();
  [seller, otherSeller, admin, buyer] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('SELLER'),
    shop.createUser('ADMIN'),
    shop.createUser('BUYER'),
  ]);
});
afterAll(() => shop?.close());

const post = (user: TestUser | undefined, body: unknown) =>
  shop.request('POST', '/api/v1/coupons', { token: user?.token, body });
const setStatus = (user: TestUser, id: string, status: string) =>
  shop.request('PATCH', `/api/v1/coupons/${id}/status`, { token: user.token, body: { status } });

async function outboxOf(aggregateId: string) {
  return query<{ type: string; queue: string; job_id: string | null; deliver_at: Date | null }>(
    shop.ctx.orm.em.fork(),
    sql`select type, queue, job_id, deliver_at from outbox_events where aggregate_id = ${aggregateId} order by type`,
  );
}

describe('sellers and admins create coupons', () => {
  it('creates an ACTIVE coupon when its window has opened, with remaining = totalQuantity', async () => {
    const body = couponBody({ code: 'welcome-10' });
    const res = await post(seller, body);
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      code: 'WELCOME-10',
      name: body.name,
      discountType: 'PERCENTAGE',
      discountValue: 10,
      maxDiscount: 5000,
      minOrderAmount: 10_000,
      totalQuantity: 100,
      issuedCount: 0,
      remaining: 100,
      status: 'ACTIVE',
      createdBy: seller.id,
      validFrom: body.validFrom,
      validUntil: body.validUntil,
    });
    expect(await gateOf(shop, res.body.data.id)).toEqual({ users: [], remaining: 100 });
  });

  it('creates a CREATED coupon when validFrom is still to come', async () => {
    const validFrom = new Date(Date.now() + 3600_000).toISOString();
    const res = await post(
      admin,
      couponBody({ validFrom, discountType: 'FIXED', discountValue: 3000, maxDiscount: undefined }),
    );
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ status: 'CREATED', discountType: 'FIXED', maxDiscount: null });
  });

  it('schedules the expiry (and a later start) through the outbox with deterministic job ids', async () => {
    const validFrom = new Date(Date.now() + 3600_000);
    const validUntil = new Date(Date.now() + 7200_000);
    const coupon = await createCoupon(shop, seller, {
      validFrom: validFrom.toISOString(),
      validUntil: validUntil.toISOString(),
    });
    const rows = await outboxOf(coupon.id);
    expect(rows.map((r) => ({ ...r, deliver_at: r.deliver_at && new Date(r.deliver_at).getTime() }))).toEqual(
      [
        {
          type: 'ACTIVATE',
          queue: 'coupon',
          job_id: `coupon-activate-${coupon.id}`,
          deliver_at: validFrom.getTime(),
        },
        {
          type: 'EXPIRE',
          queue: 'coupon',
          job_id: `coupon-expire-${coupon.id}`,
          deliver_at: validUntil.getTime(),
        },
      ],
    );
    expect(rows.every((r) => !r.job_id!.includes(':'))).toBe(true);
  });

  it('answers 409 DUPLICATE_COUPON_CODE for a taken code, whatever its case', async () => {
    await createCoupon(shop, seller, { code: 'ONCE-ONLY' });
    const res = await post(otherSeller, couponBody({ code: 'once-only' }));
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('DUPLICATE_COUPON_CODE');
  });

  it('answers 403 to a buyer and 401 without a token', async () => {
    expect((await post(buyer, couponBody())).status).toBe(403);
    expect((await post(undefined, couponBody())).status).toBe(401);
  });

  it.each([
    ['a percentage above 100', { discountValue: 101 }, 'body.discountValue'],
    ['a percentage of 0', { discountValue: 0 }, 'body.discountValue'],
    [
      'a FIXED coupon of 0 won',
      { discountType: 'FIXED', discountValue: 0, maxDiscount: undefined },
      'body.discountValue',
    ],
    [
      'a cap on a FIXED coupon',
      { discountType: 'FIXED', discountValue: 1000, maxDiscount: 500 },
      'body.maxDiscount',
    ],
    ['a negative cap', { maxDiscount: -1 }, 'body.maxDiscount'],
    ['no coupons at all', { totalQuantity: 0 }, 'body.totalQuantity'],
    ['more than a million coupons', { totalQuantity: 1_000_001 }, 'body.totalQuantity'],
    ['a fractional quantity', { totalQuantity: 1.5 }, 'body.totalQuantity'],
    ['a negative minimum order', { minOrderAmount: -1 }, 'body.minOrderAmount'],
    [
      'a window that ends before it starts',
      { validUntil: new Date(Date.now() - 120_000).toISOString() },
      'body.validUntil',
    ],
    [
      'a window that has already ended',
      { validFrom: '2020-01-01T00:00:00Z', validUntil: '2020-02-01T00:00:00Z' },
      'body.validUntil',
    ],
    ['a date without a time zone', { validFrom: '2026-01-01T00:00:00' }, 'body.validFrom'],
    ['a code with spaces', { code: 'NO SPACES' }, 'body.code'],
    ['an unknown discount type', { discountType: 'BOGO' }, 'body.discountType'],
  ])('refuses %s with 400 VALIDATION_ERROR naming the field', async (_, overrides, field) => {
    const res = await post(seller, couponBody(overrides));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('VALIDATION_ERROR');
    expect(res.body.details).toContainEqual(expect.objectContaining({ field }));
  });

  it('refuses a missing body field and malformed JSON without writing anything', async () => {
    const { totalQuantity: _, ...withoutQuantity } = couponBody({ code: 'NEVER-WRITTEN' });
    expect((await post(seller, withoutQuantity)).status).toBe(400);
    expect((await post(seller, '{"code":')).status).toBe(400);
    const rows = await query(shop.ctx.orm.em.fork(), sql`select 1 from coupons where code = 'NEVER-WRITTEN'`);
    expect(rows).toHaveLength(0);
  });
});

describe('anyone reads coupons with what remains of them', () => {
  it('lists newest first with paging meta, and filters by status', async () => {
    const created = [];
    for (let i = 0; i < 3; i++) created.push(await createCoupon(shop, seller, { totalQuantity: 5 + i }));
    const page = await shop.request('GET', '/api/v1/coupons?page=0&size=2');
    expect(page.status).toBe(200);
    expect(page.body.data.map((c: { id: string }) => c.id)).toEqual([created[2]!.id, created[1]!.id]);
    expect(page.body.data[0]).toMatchObject({ totalQuantity: 7, remaining: 7 });
    expect(page.body.meta).toMatchObject({ page: 0, size: 2 });
    expect(page.body.meta.totalElements).toBeGreaterThanOrEqual(3);

    const suspended = await createCoupon(shop, seller);
    await setStatus(seller, suspended.id, 'SUSPENDED');
    const filtered = await shop.request('GET', '/api/v1/coupons?status=SUSPENDED&size=100');
    expect(filtered.body.data.map((c: { id: string }) => c.id)).toContain(suspended.id);
    expect(filtered.body.data.every((c: { status: string }) => c.status === 'SUSPENDED')).toBe(true);
  });

  it('shows remaining going down as coupons are issued', async () => {
    const coupon = await createCoupon(shop, seller, { totalQuantity: 3 });
    expect((await issue(shop, buyer, coupon.id)).status).toBe(201);
    const res = await shop.request('GET', `/api/v1/coupons/${coupon.id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: coupon.id, issuedCount: 1, remaining: 2, status: 'ACTIVE' });
  });

  it('answers 404 for an unknown coupon and 400 for bad ids, statuses and sizes', async () => {
    const unknown = await shop.request('GET', `/api/v1/coupons/${crypto.randomUUID()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('COUPON_NOT_FOUND');
    expect((await shop.request('GET', '/api/v1/coupons/not-a-uuid')).status).toBe(400);
    expect((await shop.request('GET', '/api/v1/coupons?status=NEW')).status).toBe(400);
    expect((await shop.request('GET', '/api/v1/coupons?size=101')).status).toBe(400);
  });
});

describe('the creator or an admin changes a coupon’s status along allowed edges', () => {
  it('suspends and resumes an ACTIVE coupon; a suspended coupon cannot be issued', async () => {
    const coupon = await createCoupon(shop, seller);
    const suspended = await setStatus(seller, coupon.id, 'SUSPENDED');
    expect(suspended.status).toBe(200);
    expect(suspended.body.data.status).toBe('SUSPENDED');
    const refused = await issue(shop, buyer, coupon.id);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('COUPON_NOT_APPLICABLE');
    const resumed = await setStatus(admin, coupon.id, 'ACTIVE');
    expect(resumed.body.data.status).toBe('ACTIVE');
    expect((await issue(shop, buyer, coupon.id)).status).toBe(201);
  });

  it('resumes a suspended coupon to its natural status: CREATED before its window, EXHAUSTED when all are issued', async () => {
    const later = await createCoupon(shop, seller, {
      validFrom: new Date(Date.now() + 3600_000).toISOString(),
    });
    await setStatus(seller, later.id, 'SUSPENDED');
    expect((await setStatus(seller, later.id, 'ACTIVE')).body.data.status).toBe('CREATED');

    const single = await createCoupon(shop, seller, { totalQuantity: 1 });
    expect((await issue(shop, buyer, single.id)).status).toBe(201);
    await setStatus(seller, single.id, 'SUSPENDED');
    expect((await setStatus(seller, single.id, 'ACTIVE')).body.data.status).toBe('EXHAUSTED');
  });

  it('cancels for good: a CANCELLED coupon cannot be revived, issued or suspended', async () => {
    const coupon = await createCoupon(shop, seller);
    const cancelled = await setStatus(seller, coupon.id, 'CANCELLED');
    expect(cancelled.body.data.status).toBe('CANCELLED');
    for (const status of ['ACTIVE', 'SUSPENDED']) {
      const res = await setStatus(admin, coupon.id, status);
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('INVALID_COUPON_TRANSITION');
    }
    expect((await issue(shop, buyer, coupon.id)).body.error).toBe('COUPON_NOT_APPLICABLE');
    expect((await setStatus(seller, coupon.id, 'CANCELLED')).status).toBe(200);
  });

  it('refuses to start a CREATED coupon early or to reactivate an EXHAUSTED one', async () => {
    const later = await createCoupon(shop, seller, {
      validFrom: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect((await setStatus(seller, later.id, 'ACTIVE')).status).toBe(409);
    const single = await createCoupon(shop, seller, { totalQuantity: 1 });
    await issue(shop, buyer, single.id);
    expect((await setStatus(seller, single.id, 'ACTIVE')).body.error).toBe('INVALID_COUPON_TRANSITION');
  });

  it('answers 403 to another seller and to a buyer, 404 for an unknown coupon, 400 for a bad status', async () => {
    const coupon = await createCoupon(shop, seller);
    expect((await setStatus(otherSeller, coupon.id, 'SUSPENDED')).status).toBe(403);
    expect((await setStatus(buyer, coupon.id, 'SUSPENDED')).status).toBe(403);
    expect((await setStatus(admin, crypto.randomUUID(), 'SUSPENDED')).status).toBe(404);
    for (const status of ['EXPIRED', 'EXHAUSTED', 'CREATED', 'paused']) {
      expect((await setStatus(seller, coupon.id, status)).status).toBe(400);
    }
  });
});

describe('an admin rebuilds a coupon’s Redis gate from PostgreSQL', () => {
  it('replaces a corrupted gate with PostgreSQL’s users and count', async () => {
    const coupon = await createCoupon(shop, seller, { totalQuantity: 10 });
    const buyers = await Promise.all([shop.createUser('BUYER'), shop.createUser('BUYER')]);
    for (const b of buyers) expect((await issue(shop, b, coupon.id)).status).toBe(201);
    const keys = couponGateKeys(shop.ctx, coupon.id);
    await shop.ctx.redis.multi().del(keys.users).sadd(keys.users, 'ghost').set(keys.remaining, 999).exec();

    const res = await shop.request('POST', `/api/v1/admin/coupons/${coupon.id}/resync`, {
      token: admin.token,
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ couponId: coupon.id, status: 'ACTIVE', issuedCount: 2, remaining: 8 });
    const gate = await gateOf(shop, coupon.id);
    expect(gate.users.sort()).toEqual(buyers.map((b) => b.id).sort());
    expect(gate.remaining).toBe(8);
    expect(await shop.ctx.redis.ttl(keys.users)).toBe(-1);
  });

  it('is for admins only, and answers 404 for an unknown coupon', async () => {
    const coupon = await createCoupon(shop, seller);
    const path = `/api/v1/admin/coupons/${coupon.id}/resync`;
    expect((await shop.request('POST', path, { token: seller.token })).status).toBe(403);
    expect((await shop.request('POST', path)).status).toBe(401);
    const unknown = await shop.request('POST', `/api/v1/admin/coupons/${crypto.randomUUID()}/resync`, {
      token: admin.token,
    });
    expect(unknown.status).toBe(404);
  });

  it('rebuilds every open coupon’s gate at start-up', async () => {
    const coupon = await createCoupon(shop, seller, { totalQuantity: 4 });
    expect((await issue(shop, buyer, coupon.id)).status).toBe(201);
    await shop.ctx.redis.del(...Object.values(couponGateKeys(shop.ctx, coupon.id)));
    expect(await rebuildAllCouponGates(shop.ctx)).toBeGreaterThan(0);
    expect(await gateOf(shop, coupon.id)).toEqual({ users: [buyer.id], remaining: 3 });
  });
});
