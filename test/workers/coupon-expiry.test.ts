import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateCoupon, expireCoupon, sweepCoupons } from '../../src/coupons/coupon-expiry';
import { query, sql } from '../../src/db/sql';
import { holdCoupon, restoreCoupon, useCoupon } from '../../src/orders/effects/coupon.effects';
import { couponWorker } from '../../workers/coupon.worker';
import { WORKER_DEFINITIONS } from '../../workers/index';
import { type RunningWorker, startWorker } from '../../workers/runtime';
import { orderStub, runEffect } from '../support/coupon-effects';
import { createBuyers, createCoupon, gateOf, issue, waitFor } from '../support/coupons';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
let worker: RunningWorker | undefined;
beforeAll(async () => {
  shop = await createTestShop({ COUPON_SWEEP_INTERVAL_MS: '200' });
  seller = await shop.createUser('SELLER');
});
afterAll(async () => {
  await worker?.close();
  await shop?.close();
});

const DAY = 24 * 3600_000;
const afterWindow = () => new Date(Date.now() + DAY + 60_000);

async function couponStatus(id: string, on = shop) {
  const [row] = await query<{ status: string }>(
    on.ctx.orm.em.fork(),
    sql`select status from coupons where id = ${id}`,
  );
  return row!.status;
}

async function userCouponStatuses(couponId: string) {
  const rows = await query<{ user_id: string; status: string; order_id: string | null }>(
    shop.ctx.orm.em.fork(),
    sql`select user_id, status, order_id from user_coupons where coupon_id = ${couponId}`,
  );
  return new Map(rows.map((r) => [r.user_id, r]));
}

/** Puts a coupon's window in the past, as if its validUntil had come while nothing ran. */
async function makeOverdue(couponId: string, on = shop) {
  await query(
    on.ctx.orm.em.fork(),
    sql`update coupons set valid_from = now() - interval '2 days', valid_until = now() - interval '1 second'
        where id = ${couponId}`,
  );
}

describe('at validUntil the coupon and its unused user coupons expire', () => {
  it('expires ISSUED and REFUNDED user coupons, leaves USED and held ones to their orders, emits COUPON_EXPIRED', async () => {
    const coupon = await createCoupon(shop, seller, { totalQuantity: 10 });
    const [unused, refunded, used, held] = await createBuyers(shop, 4);
    const ids: Record<string, string> = {};
    for (const [name, buyer] of Object.entries({ unused, refunded, used, held })) {
      ids[name] = (await issue(shop, buyer!, coupon.id)).body.data.id;
    }
    const usedOrder = orderStub(used!.id, ids.used!);
    await runEffect(shop, holdCoupon, usedOrder);
    await runEffect(shop, useCoupon, usedOrder);
    const refundedOrder = orderStub(refunded!.id, ids.refunded!);
    await runEffect(shop, holdCoupon, refundedOrder);
    await runEffect(shop, useCoupon, refundedOrder);
    await runEffect(shop, restoreCoupon, refundedOrder);
    const heldOrder = orderStub(held!.id, ids.held!);
    await runEffect(shop, holdCoupon, heldOrder);

    expect(await expireCoupon(shop.ctx, coupon.id)).toEqual({ expired: false, userCoupons: 0 });
    expect(await couponStatus(coupon.id)).toBe('ACTIVE');

    expect(await expireCoupon(shop.ctx, coupon.id, afterWindow())).toEqual({ expired: true, userCoupons: 2 });
    expect(await couponStatus(coupon.id)).toBe('EXPIRED');
    const statuses = await userCouponStatuses(coupon.id);
    expect(statuses.get(unused!.id)!.status).toBe('EXPIRED');
    expect(statuses.get(refunded!.id)!.status).toBe('EXPIRED');
    expect(statuses.get(used!.id)!.status).toBe('USED');
    expect(statuses.get(held!.id)).toMatchObject({ status: 'ISSUED', order_id: heldOrder.id });

    const events = await query<{ payload: unknown }>(
      shop.ctx.orm.em.fork(),
      sql`select payload from outbox_events where aggregate_id = ${coupon.id} and type = 'COUPON_EXPIRED'`,
    );
    expect(events.map((e) => e.payload)).toEqual([{ couponId: coupon.id, expiredUserCoupons: 2 }]);
    expect(await gateOf(shop, coupon.id)).toEqual({ users: [], remaining: null });
    expect((await issue(shop, unused!, coupon.id)).body.error).toBe('COUPON_NOT_APPLICABLE');

    // Again (a redelivered job, or the sweeper after the job): nothing changes, no second event.
    expect(await expireCoupon(shop.ctx, coupon.id, afterWindow())).toEqual({
      expired: false,
      userCoupons: 0,
    });
  });

  it('expires a SUSPENDED, an EXHAUSTED and a never-started CREATED coupon, but not a CANCELLED one', async () => {
    const buyer = await shop.createUser('BUYER');
    const suspended = await createCoupon(shop, seller);
    await shop.request('PATCH', `/api/v1/coupons/${suspended.id}/status`, {
      token: seller.token,
      body: { status: 'SUSPENDED' },
    });
    const exhausted = await createCoupon(shop, seller, { totalQuantity: 1 });
    await issue(shop, buyer, exhausted.id);
    const created = await createCoupon(shop, seller, {
      validFrom: new Date(Date.now() + 3600_000).toISOString(),
    });
    const cancelled = await createCoupon(shop, seller);
    await shop.request('PATCH', `/api/v1/coupons/${cancelled.id}/status`, {
      token: seller.token,
      body: { status: 'CANCELLED' },
    });
    expect(await couponStatus(exhausted.id)).toBe('EXHAUSTED');
    expect(await couponStatus(created.id)).toBe('CREATED');
    for (const c of [suspended, exhausted, created]) {
      expect((await expireCoupon(shop.ctx, c.id, afterWindow())).expired).toBe(true);
      expect(await couponStatus(c.id)).toBe('EXPIRED');
    }
    expect((await expireCoupon(shop.ctx, cancelled.id, afterWindow())).expired).toBe(false);
    expect(await couponStatus(cancelled.id)).toBe('CANCELLED');
  });
});

describe('at validFrom a CREATED coupon becomes ACTIVE', () => {
  it('activates on time, not before', async () => {
    const validFrom = new Date(Date.now() + 3600_000);
    const coupon = await createCoupon(shop, seller, { validFrom: validFrom.toISOString() });
    expect(await activateCoupon(shop.ctx, coupon.id)).toBe(false);
    expect(await activateCoupon(shop.ctx, coupon.id, new Date(validFrom.getTime() + 1))).toBe(true);
    expect(await couponStatus(coupon.id)).toBe('ACTIVE');
  });
});

describe('the sweeper catches up with what lost delayed jobs would have done', () => {
  it('starts due CREATED coupons and expires overdue ones', async () => {
    const due = await createCoupon(shop, seller, {
      validFrom: new Date(Date.now() + 3600_000).toISOString(),
    });
    await query(shop.ctx.orm.em.fork(), sql`update coupons set valid_from = now() where id = ${due.id}`);
    const overdue = await createCoupon(shop, seller);
    await makeOverdue(overdue.id);
    const result = await sweepCoupons(shop.ctx);
    expect(result.activated).toBeGreaterThanOrEqual(1);
    expect(result.expired).toBeGreaterThanOrEqual(1);
    expect(await couponStatus(due.id)).toBe('ACTIVE');
    expect(await couponStatus(overdue.id)).toBe('EXPIRED');
  });
});

describe('the coupon mailbox', () => {
  const job = (name: string, data: unknown) => ({ name, data }) as Job;

  it('is registered as the `coupon` worker', () => {
    expect(WORKER_DEFINITIONS.coupon).toBe(couponWorker);
    expect(couponWorker.queue).toBe('coupon');
  });

  it('routes EXPIRE, ACTIVATE and SWEEP, and refuses unknown jobs and bad data for good', async () => {
    const coupon = await createCoupon(shop, seller);
    await makeOverdue(coupon.id);
    const log = shop.ctx.log;
    expect(await couponWorker.process(shop.ctx, job('EXPIRE', { couponId: coupon.id }), log)).toEqual({
      expired: true,
      userCoupons: 0,
    });
    expect(await couponWorker.process(shop.ctx, job('ACTIVATE', { couponId: coupon.id }), log)).toEqual({
      activated: false,
    });
    expect(await couponWorker.process(shop.ctx, job('SWEEP', {}), log)).toMatchObject({ expired: 0 });
    await expect(couponWorker.process(shop.ctx, job('EXPLODE', {}), log)).rejects.toThrow(/no job 'EXPLODE'/);
    await expect(couponWorker.process(shop.ctx, job('EXPIRE', { couponId: 'x' }), log)).rejects.toMatchObject(
      {
        name: 'UnrecoverableError',
      },
    );
  });

  it('runs the scheduled sweep when started', async () => {
    worker = await startWorker(shop.ctx, 'coupon', couponWorker);
    const schedulers = await shop.ctx.queues.coupon.getJobSchedulers();
    expect(schedulers.map((s) => s.key)).toContain('coupon-sweep');

    // Redis "lost" this one's job: only the sweep can expire it.
    const lost = await createCoupon(shop, seller);
    await makeOverdue(lost.id);
    await waitFor(async () => (await couponStatus(lost.id)) === 'EXPIRED', 'the sweep to expire the coupon');
  });
});

describe('a delayed `coupon-expire-{id}` job, run by the started worker', () => {
  // A sweep every minute: none comes while the job runs, so only the job itself can expire its coupon.
  let quiet: TestShop;
  let quietWorker: RunningWorker | undefined;
  beforeAll(async () => {
    quiet = await createTestShop({ COUPON_SWEEP_INTERVAL_MS: '60000' });
  });
  afterAll(async () => {
    await quietWorker?.close();
    await quiet?.close();
  });

  it('expires its coupon itself (no sweep runs meanwhile)', async () => {
    const owner = await quiet.createUser('SELLER');
    quietWorker = await startWorker(quiet.ctx, 'coupon', couponWorker);
    const queue = quiet.ctx.queues.coupon;
    const sweeps = async () =>
      (await queue.getJobs(['active', 'completed', 'failed'])).filter((j) => j.name === 'SWEEP');
    // A sweep the scheduler runs at once is over before the coupon is due; the next is a minute away.
    await waitFor(async () => {
      const counts = await queue.getJobCounts('waiting', 'active', 'prioritized');
      return Object.values(counts).every((n) => n === 0);
    }, 'the coupon mailbox to be idle');
    const sweepsBefore = (await sweeps()).length;

    // A delayed job as the outbox relay would schedule it.
    const coupon = await createCoupon(quiet, owner);
    await makeOverdue(coupon.id, quiet);
    const jobId = `coupon-expire-${coupon.id}`;
    await queue.add('EXPIRE', { couponId: coupon.id }, { jobId, delay: 50 });
    const done = await waitFor(async () => {
      const j = await queue.getJob(jobId);
      return j?.finishedOn ? j : undefined;
    }, 'the expiry job');
    expect(done.failedReason).toBeUndefined();
    // `expired: true` only from the call that moved the coupon to EXPIRED (a later one finds it done).
    expect(done.returnvalue).toEqual({ expired: true, userCoupons: 0 });
    expect(await couponStatus(coupon.id, quiet)).toBe('EXPIRED');
    expect((await sweeps()).length).toBe(sweepsBefore);
  });
});

describe('every state of the coupon and user-coupon lifecycles is reached', () => {
  it('walks CREATED → ACTIVE → SUSPENDED → ACTIVE → EXHAUSTED → EXPIRED (and CANCELLED); ISSUED → USED → REFUNDED → EXPIRED', async () => {
    const seen = { coupon: new Set<string>(), userCoupon: new Set<string>() };
    const validFrom = new Date(Date.now() + 3600_000);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 2, validFrom: validFrom.toISOString() });
    const setStatus = (status: string) =>
      shop.request('PATCH', `/api/v1/coupons/${coupon.id}/status`, { token: seller.token, body: { status } });
    const see = async () => {
      seen.coupon.add(await couponStatus(coupon.id));
      for (const { status } of (await userCouponStatuses(coupon.id)).values()) seen.userCoupon.add(status);
    };
    await see();
    await activateCoupon(shop.ctx, coupon.id, new Date(validFrom.getTime() + 1));
    await query(
      shop.ctx.orm.em.fork(),
      sql`update coupons set valid_from = now() - interval '1 minute' where id = ${coupon.id}`,
    );
    await see();
    await setStatus('SUSPENDED');
    await see();
    await setStatus('ACTIVE');
    const [first, second] = await createBuyers(shop, 2);
    const userCouponId = (await issue(shop, first!, coupon.id)).body.data.id;
    await see();
    const order = orderStub(first!.id, userCouponId);
    await runEffect(shop, holdCoupon, order);
    await runEffect(shop, useCoupon, order);
    await see();
    await runEffect(shop, restoreCoupon, order);
    await see();
    await issue(shop, second!, coupon.id);
    await see();
    await expireCoupon(shop.ctx, coupon.id, new Date(Date.now() + 2 * DAY));
    await see();
    const cancelled = await createCoupon(shop, seller);
    await shop.request('PATCH', `/api/v1/coupons/${cancelled.id}/status`, {
      token: seller.token,
      body: { status: 'CANCELLED' },
    });
    seen.coupon.add(await couponStatus(cancelled.id));

    const { COUPON_STATUSES } = await import('../../src/db/schema/coupon.entity');
    const { USER_COUPON_STATUSES } = await import('../../src/db/schema/user-coupon.entity');
    expect([...seen.coupon].sort()).toEqual([...COUPON_STATUSES].sort());
    expect([...seen.userCoupon].sort()).toEqual([...USER_COUPON_STATUSES].sort());
  });
});
