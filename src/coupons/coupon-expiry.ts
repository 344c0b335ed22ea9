import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { query, run, sql } from '../db/sql';
import { Outbox } from '../messaging/outbox';
import { dropCouponGate } from './coupon-gate';

export interface ExpiryResult {
  /** False when the coupon was not due (or already final): nothing changed. */
  expired: boolean;
  /** Unused user coupons that expired with it. */
  userCoupons: number;
}

/**
 * At validUntil (the delayed job `coupon-expire-{id}`, or the sweeper): the coupon becomes EXPIRED
 * and its unused user coupons with it, in one transaction with the COUPON_EXPIRED event. A user
 * coupon held by a PENDING order is left to that order: USED if it is paid, EXPIRED if it is
 * cancelled (see releaseCoupon). Running it again, or early, changes nothing.
 */
export async function expireCoupon(
  ctx: AppContext,
  couponId: string,
  now = new Date(),
): Promise<ExpiryResult> {
  const result = await ctx.orm.em.fork().transactional(async (tx) => {
    const changed = await run(
      tx,
      sql`update coupons set status = 'EXPIRED', updated_at = ${now}
          where id = ${couponId} and status in ('CREATED', 'ACTIVE', 'EXHAUSTED', 'SUSPENDED')
            and valid_until <= ${now}`,
    );
    if (changed === 0) return { expired: false, userCoupons: 0 };
    const userCoupons = await run(
      tx,
      sql`update user_coupons set status = 'EXPIRED', updated_at = ${now}
          where coupon_id = ${couponId} and status in ('ISSUED', 'REFUNDED') and order_id is null`,
    );
    const outbox = new Outbox();
    outbox.event(
      'COUPON_EXPIRED',
      { type: 'coupon', id: couponId },
      { couponId, expiredUserCoupons: userCoupons },
    );
    await outbox.flush(tx, now);
    return { expired: true, userCoupons };
  });
  if (result.expired) {
    await dropCouponGate(ctx, couponId).catch((err) =>
      ctx.log.warn({ err: String(err), couponId }, 'could not drop the gate of an expired coupon'),
    );
  }
  return result;
}

/** At validFrom (the delayed job `coupon-activate-{id}`, or the sweeper): CREATED → ACTIVE. */
export async function activateCoupon(ctx: AppContext, couponId: string, now = new Date()): Promise<boolean> {
  const changed = await run(
    ctx.orm.em.fork(),
    sql`update coupons set status = 'ACTIVE', updated_at = ${now}
        where id = ${couponId} and status = 'CREATED' and valid_from <= ${now} and valid_until > ${now}`,
  );
  return changed === 1;
}

const SWEEP_BATCH = 200;
/** Buyers hear about an unused coupon this long before it closes (API.md type COUPON_EXPIRING). */
export const COUPON_EXPIRING_NOTICE_HOURS = 24;

/**
 * One COUPON_EXPIRING notification per unused, unheld user coupon whose coupon closes within the
 * notice window — once: the notification's event id is fixed per user coupon, and it is unique.
 */
export async function noticeExpiringCoupons(ctx: AppContext, now = new Date()): Promise<number> {
  return run(
    ctx.orm.em.fork(),
    sql`insert into notifications (id, user_id, type, title, body, title_ko, body_ko, order_id, event_id, created_at)
        select gen_random_uuid(), uc.user_id, 'COUPON_EXPIRING', 'Coupon expiring soon',
               'Your coupon "' || c.name || '" (' || c.code || ') expires on ' || closes.at || '.',
               '쿠폰 만료 예정',
               '쿠폰 "' || c.name || '"(' || c.code || ')의 사용 기한이 ' || closes.at || '에 끝납니다.',
               null, 'coupon-expiring-' || uc.id, ${now}
        from user_coupons uc join coupons c on c.id = uc.coupon_id
        cross join lateral (
          select to_char(c.valid_until at time zone ${ctx.config.timezone}, 'YYYY-MM-DD HH24:MI') as at) closes
        where uc.status in ('ISSUED', 'REFUNDED') and uc.order_id is null
          and c.status in ('ACTIVE', 'EXHAUSTED') and c.valid_until > ${now}
          and c.valid_until <= ${now}::timestamptz + ${`${COUPON_EXPIRING_NOTICE_HOURS} hours`}::interval
        on conflict (user_id, type, event_id) do nothing`,
  );
}

/**
 * The periodic safety net for delayed jobs Redis may have lost: starts coupons whose window opened
 * and expires those whose window closed; and tells buyers about coupons about to close.
 */
export async function sweepCoupons(
  ctx: AppContext,
  now = new Date(),
): Promise<{ activated: number; expired: number; expiringNotices: number }> {
  const em = ctx.orm.em.fork();
  const activated = await run(
    em,
    sql`update coupons set status = 'ACTIVE', updated_at = ${now}
        where status = 'CREATED' and valid_from <= ${now} and valid_until > ${now}`,
  );
  let expired = 0;
  for (;;) {
    const due = await query<Row<'coupons', 'id'>>(
      em,
      sql`select id from coupons
          where status in ('CREATED', 'ACTIVE', 'EXHAUSTED', 'SUSPENDED') and valid_until <= ${now}
          order by valid_until limit ${SWEEP_BATCH}`,
    );
    for (const { id } of due) if ((await expireCoupon(ctx, id, now)).expired) expired++;
    if (due.length < SWEEP_BATCH) break;
  }
  return { activated, expired, expiringNotices: await noticeExpiringCoupons(ctx, now) };
}

/** The job scheduler that runs the coupon sweeper (one per shop, however many processes upsert it). */
export const COUPON_SWEEP_SCHEDULER_ID = 'coupon-sweep';

/** Registers the sweep's scheduler (again on every refresh: a flushed Redis loses it). */
export async function scheduleCouponSweep(ctx: AppContext): Promise<void> {
  await ctx.queues.coupon.upsertJobScheduler(
    COUPON_SWEEP_SCHEDULER_ID,
    { every: ctx.config.couponSweepIntervalMs },
    { name: 'SWEEP', data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
  );
}
