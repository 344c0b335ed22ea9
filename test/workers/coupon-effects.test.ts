import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteCoupon } from '../../src/coupons/coupon-quote';
import { query, sql } from '../../src/db/sql';
import { isDomainError } from '../../src/errors/domain-error';
import * as couponEffects from '../../src/orders/effects/coupon.effects';
import { holdCoupon, releaseCoupon, restoreCoupon, useCoupon } from '../../src/orders/effects/coupon.effects';
import { orderEffects } from '../../src/orders/effects/index';
import { effectContext, orderStub, runEffect } from '../support/coupon-effects';
import { createCoupon, issue, waitFor } from '../support/coupons';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
beforeAll(async () => {
  shop = await createTestShop();
  seller = await shop.createUser('SELLER');
});
afterAll(() => shop?.close());

/** A buyer with a fresh user coupon: 10 % off, at most 5,000 won, from 10,000 won. */
async function issuedCoupon(overrides: Record<string, unknown> = {}) {
  const buyer = await shop.createUser('BUYER');
  const coupon = await createCoupon(shop, seller, overrides);
  const res = await issue(shop, buyer, coupon.id);
  expect(res.status).toBe(201);
  return { buyer, coupon, userCouponId: res.body.data.id as string };
}

async function userCoupon(id: string) {
  const [row] = await query<{ status: string; order_id: string | null; used_at: Date | null }>(
    shop.ctx.orm.em.fork(),
    sql`select status, order_id, used_at from user_coupons where id = ${id}`,
  );
  return row!;
}

const quote = (userId: string, userCouponId: string, subtotal = 20_000, at = new Date()) =>
  quoteCoupon(shop.ctx.orm.em.fork(), {
    userId,
    userCouponId,
    // One line of the coupons' seller: a seller's coupon discounts that seller's lines only.
    lines: [{ productId: crypto.randomUUID(), quantity: 1, unitPrice: subtotal, sellerId: seller.id }],
    at,
  });

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('the coupon effects are exactly the order machine’s four coupon actions', () => {
  it('exports holdCoupon, releaseCoupon, useCoupon and restoreCoupon, and they are registered', () => {
    expect(Object.keys(couponEffects).sort()).toEqual([
      'holdCoupon',
      'releaseCoupon',
      'restoreCoupon',
      'useCoupon',
    ]);
    const registered = new Map<string, unknown>(Object.entries(orderEffects));
    for (const [name, effect] of Object.entries(couponEffects)) expect(registered.get(name)).toBe(effect);
  });
});

describe('quoteCoupon validates a user coupon for an order and computes its discount', () => {
  it('gives 10 % capped at 5,000 won, and the code', async () => {
    const { buyer, coupon, userCouponId } = await issuedCoupon();
    expect(await quote(buyer.id, userCouponId, 20_000)).toEqual({ discount: 2000, code: coupon.code });
    expect(await quote(buyer.id, userCouponId, 90_000)).toEqual({ discount: 5000, code: coupon.code });
  });

  it('refuses another user’s coupon and an unknown one with COUPON_NOT_APPLICABLE', async () => {
    const { userCouponId } = await issuedCoupon();
    const other = await shop.createUser('BUYER');
    expect(await refusal(quote(other.id, userCouponId))).toBe('COUPON_NOT_APPLICABLE');
    expect(await refusal(quote(other.id, crypto.randomUUID()))).toBe('COUPON_NOT_APPLICABLE');
  });

  it('refuses below minOrderAmount and outside the window with COUPON_NOT_APPLICABLE', async () => {
    const { buyer, userCouponId } = await issuedCoupon();
    expect(await refusal(quote(buyer.id, userCouponId, 9_999))).toBe('COUPON_NOT_APPLICABLE');
    const tomorrowAndMore = new Date(Date.now() + 25 * 3600_000);
    expect(await refusal(quote(buyer.id, userCouponId, 20_000, tomorrowAndMore))).toBe(
      'COUPON_NOT_APPLICABLE',
    );
    const beforeItStarted = new Date(Date.now() - 3600_000);
    expect(await refusal(quote(buyer.id, userCouponId, 20_000, beforeItStarted))).toBe(
      'COUPON_NOT_APPLICABLE',
    );
  });

  it('refuses a coupon that is suspended, cancelled or expired, and accepts an exhausted one', async () => {
    const { buyer, coupon, userCouponId } = await issuedCoupon({ totalQuantity: 1 });
    expect((await quote(buyer.id, userCouponId)).discount).toBe(2000); // EXHAUSTED: issued ones stay usable
    const em = shop.ctx.orm.em.fork();
    for (const status of ['SUSPENDED', 'CANCELLED', 'EXPIRED']) {
      await query(em, sql`update coupons set status = ${status} where id = ${coupon.id}`);
      expect(await refusal(quote(buyer.id, userCouponId))).toBe('COUPON_NOT_APPLICABLE');
    }
    await query(em, sql`update coupons set status = 'ACTIVE' where id = ${coupon.id}`);
    await query(em, sql`update user_coupons set status = 'EXPIRED' where id = ${userCouponId}`);
    expect(await refusal(quote(buyer.id, userCouponId))).toBe('COUPON_NOT_APPLICABLE');
  });

  it('refuses a coupon held by another order or used with COUPON_ALREADY_USED', async () => {
    const { buyer, userCouponId } = await issuedCoupon();
    const order = orderStub(buyer.id, userCouponId);
    await runEffect(shop, holdCoupon, order);
    expect(await refusal(quote(buyer.id, userCouponId))).toBe('COUPON_ALREADY_USED');
    await runEffect(shop, useCoupon, order);
    expect(await refusal(quote(buyer.id, userCouponId))).toBe('COUPON_ALREADY_USED');
  });
});

describe('holdCoupon: an order takes its user coupon, and of two racing orders exactly one wins', () => {
  it('sets the order on the user coupon, which stays ISSUED', async () => {
    const { buyer, userCouponId } = await issuedCoupon();
    const order = orderStub(buyer.id, userCouponId);
    expect(await runEffect(shop, holdCoupon, order)).toEqual([]);
    expect(await userCoupon(userCouponId)).toMatchObject({ status: 'ISSUED', order_id: order.id });
  });

  it('lets one of ten concurrent orders hold it; the others fail with COUPON_ALREADY_USED', async () => {
    const { buyer, userCouponId } = await issuedCoupon();
    const orders = Array.from({ length: 10 }, () => orderStub(buyer.id, userCouponId));
    const outcomes = await Promise.allSettled(orders.map((o) => runEffect(shop, holdCoupon, o)));
    const winners = orders.filter((_, i) => outcomes[i]!.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect((outcome as PromiseRejectedResult).reason.code).toBe('COUPON_ALREADY_USED');
    }
    expect((await userCoupon(userCouponId)).order_id).toBe(winners[0]!.id);
  });

  it('makes the loser wait for the winner’s commit, then refuses it and rolls its whole step back', async () => {
    const { buyer, userCouponId } = await issuedCoupon();
    const [first, second] = [orderStub(buyer.id, userCouponId), orderStub(buyer.id, userCouponId)];
    let loser: Promise<unknown> | undefined;
    await shop.ctx.orm.em.fork().transactional(async (em) => {
      const e = effectContext(em, first, new Date());
      await holdCoupon(e, undefined);
      // The second order's step writes something, then blocks on the held row until this commits.
      loser = shop.ctx.orm.em.fork().transactional(async (em2) => {
        const e2 = effectContext(em2, second, new Date());
        e2.outbox.event(
          'ORDER_CREATED',
          { type: 'order', id: second.id },
          {
            orderId: second.id,
            orderNo: e2.order.orderNo,
            userId: buyer.id,
            total: e2.order.total,
          },
        );
        await e2.outbox.flush(em2, e2.now);
        await holdCoupon(e2, undefined);
      });
      loser.catch(() => undefined);
      await waitFor(
        async () =>
          (
            await query<{ waiting: number }>(
              shop.ctx.orm.em.fork(),
              sql`select count(*)::int as waiting from pg_stat_activity
                  where datname = current_database() and wait_event_type = 'Lock'`,
            )
          )[0]!.waiting > 0,
        'the second hold to wait for the row',
      );
    });
    expect(await refusal(loser!)).toBe('COUPON_ALREADY_USED');
    expect((await userCoupon(userCouponId)).order_id).toBe(first.id);
    const written = await query(
      shop.ctx.orm.em.fork(),
      sql`select 1 from outbox_events where aggregate_id = ${second.id}`,
    );
    expect(written).toHaveLength(0);
  });

  it('refuses another user’s coupon and an expired one with COUPON_NOT_APPLICABLE', async () => {
    const { buyer, userCouponId } = await issuedCoupon();
    const stranger = await shop.createUser('BUYER');
    expect(await refusal(runEffect(shop, holdCoupon, orderStub(stranger.id, userCouponId)))).toBe(
      'COUPON_NOT_APPLICABLE',
    );
    await query(
      shop.ctx.orm.em.fork(),
      sql`update user_coupons set status = 'EXPIRED' where id = ${userCouponId}`,
    );
    expect(await refusal(runEffect(shop, holdCoupon, orderStub(buyer.id, userCouponId)))).toBe(
      'COUPON_NOT_APPLICABLE',
    );
  });
});

describe('the held coupon follows its order: released, used, restored', () => {
  it('releaseCoupon frees it (ISSUED, no order) when a PENDING order is cancelled; it can be held again', async () => {
    const { buyer, userCouponId } = await issuedCoupon();
    const order = orderStub(buyer.id, userCouponId);
    await runEffect(shop, holdCoupon, order);
    expect(await runEffect(shop, releaseCoupon, order)).toEqual([]);
    expect(await userCoupon(userCouponId)).toMatchObject({ status: 'ISSUED', order_id: null });
    expect((await quote(buyer.id, userCouponId)).discount).toBe(2000);
    await runEffect(shop, holdCoupon, orderStub(buyer.id, userCouponId));
  });

  it('useCoupon marks it USED by the order and emits COUPON_USED; no other order may hold it', async () => {
    const { buyer, coupon, userCouponId } = await issuedCoupon();
    const order = orderStub(buyer.id, userCouponId);
    await runEffect(shop, holdCoupon, order);
    const events = await runEffect(shop, useCoupon, order);
    expect(events.map((r) => [r.type, r.aggregateType, r.aggregateId, r.payload])).toEqual([
      [
        'COUPON_USED',
        'coupon',
        coupon.id,
        { couponId: coupon.id, userCouponId, orderId: order.id, userId: buyer.id },
      ],
    ]);
    const used = await userCoupon(userCouponId);
    expect(used).toMatchObject({ status: 'USED', order_id: order.id });
    expect(used.used_at).not.toBeNull();
    expect(await refusal(runEffect(shop, holdCoupon, orderStub(buyer.id, userCouponId)))).toBe(
      'COUPON_ALREADY_USED',
    );
  });

  it('restoreCoupon makes it REFUNDED and usable again after a full refund, emitting COUPON_RESTORED', async () => {
    const { buyer, coupon, userCouponId } = await issuedCoupon();
    const order = orderStub(buyer.id, userCouponId);
    await runEffect(shop, holdCoupon, order);
    await runEffect(shop, useCoupon, order);
    const events = await runEffect(shop, restoreCoupon, order);
    expect(events.map((r) => [r.type, r.payload])).toEqual([
      [
        'COUPON_RESTORED',
        { couponId: coupon.id, userCouponId, orderId: order.id, userId: buyer.id, status: 'REFUNDED' },
      ],
    ]);
    expect(await userCoupon(userCouponId)).toMatchObject({ status: 'REFUNDED', order_id: null });

    // A REFUNDED coupon is usable again: quoted, held and used by a new order.
    expect((await quote(buyer.id, userCouponId)).discount).toBe(2000);
    const next = orderStub(buyer.id, userCouponId);
    await runEffect(shop, holdCoupon, next);
    await runEffect(shop, useCoupon, next);
    expect(await userCoupon(userCouponId)).toMatchObject({ status: 'USED', order_id: next.id });
  });

  it('gives a coupon back as EXPIRED when its window closed while an order held or used it', async () => {
    const { buyer, coupon, userCouponId } = await issuedCoupon();
    const pending = orderStub(buyer.id, userCouponId);
    await runEffect(shop, holdCoupon, pending);
    await query(shop.ctx.orm.em.fork(), sql`update coupons set status = 'EXPIRED' where id = ${coupon.id}`);
    await runEffect(shop, releaseCoupon, pending);
    expect(await userCoupon(userCouponId)).toMatchObject({ status: 'EXPIRED', order_id: null });

    const other = await issuedCoupon();
    const paid = orderStub(other.buyer.id, other.userCouponId);
    await runEffect(shop, holdCoupon, paid);
    await runEffect(shop, useCoupon, paid);
    const afterItsWindow = new Date(Date.now() + 25 * 3600_000);
    const events = await runEffect(shop, restoreCoupon, paid, afterItsWindow);
    expect(events[0]!.payload).toMatchObject({ status: 'EXPIRED' });
    expect(await userCoupon(other.userCouponId)).toMatchObject({ status: 'EXPIRED', order_id: null });
  });

  it('refuses to release, use or restore a coupon the order does not hold (a bug, never silently)', async () => {
    const { buyer, userCouponId } = await issuedCoupon();
    const stranger = orderStub(buyer.id, userCouponId);
    await expect(runEffect(shop, releaseCoupon, stranger)).rejects.toThrow(/not held by order/);
    await expect(runEffect(shop, useCoupon, stranger)).rejects.toThrow(/not held by order/);
    await expect(runEffect(shop, restoreCoupon, stranger)).rejects.toThrow(/not held by order/);
  });

  it('does nothing at all for an order without a coupon', async () => {
    const buyer = await shop.createUser('BUYER');
    const order = orderStub(buyer.id, null);
    for (const effect of [holdCoupon, releaseCoupon, useCoupon, restoreCoupon]) {
      expect(await runEffect(shop, effect, order)).toEqual([]);
    }
  });
});
