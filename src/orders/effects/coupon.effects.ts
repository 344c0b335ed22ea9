import type { EntityManager } from '@mikro-orm/postgresql';
import { db, type Row } from '../../db/database';
import type { UserCouponStatus } from '../../db/schema/user-coupon.entity';
import { query, sql } from '../../db/sql';
import { DomainError } from '../../errors/domain-error';
import type { Effect, EffectContext } from './effect-context';

/*
 * The order's user coupon (at most one, `order.userCouponId`; without one every effect does nothing).
 * While an order holds it, the user coupon keeps its status (ISSUED or REFUNDED) and carries the
 * order's id; the order that used it stays on it. Each effect is one conditional UPDATE in the order's
 * transaction, so the row itself decides races. Only the four effects are exported: every export of
 * this module is registered as an effect of the order machine.
 */

const couponAggregate = (couponId: string) => ({ type: 'coupon', id: couponId });

// A coupon past its window does not come back usable when an order gives it back.
const returnedStatus = (usable: UserCouponStatus, now: Date) =>
  sql`case when c.status = 'EXPIRED' or c.valid_until <= ${now} then 'EXPIRED' else ${usable}::text end`;

function notHeld(e: EffectContext, userCouponId: string, step: string): Error {
  return new Error(`${step}: user coupon ${userCouponId} is not held by order ${e.order.id} as expected`);
}

/** Placement: the order takes the user coupon. Of two orders racing for it, exactly one wins. */
export const holdCoupon: Effect = async (e) => {
  const userCouponId = e.order.userCouponId;
  if (!userCouponId) return;
  const held = await db(e.em)
    .updateTable('user_coupons')
    .set({ order_id: e.order.id, updated_at: e.now })
    .where('id', '=', userCouponId)
    .where('user_id', '=', e.order.userId)
    .where('status', 'in', ['ISSUED', 'REFUNDED'])
    .where((eb) => eb.or([eb('order_id', 'is', null), eb('order_id', '=', e.order.id)]))
    .returning('id')
    .executeTakeFirst();
  if (!held) throw await holdRefusal(e.em, userCouponId, e.order.userId);
};

async function holdRefusal(em: EntityManager, userCouponId: string, userId: string): Promise<DomainError> {
  const row = await db(em)
    .selectFrom('user_coupons')
    .select(['user_id', 'status', 'order_id'])
    .where('id', '=', userCouponId)
    .executeTakeFirst();
  if (!row || row.user_id !== userId) {
    return new DomainError('COUPON_NOT_APPLICABLE', undefined, [
      { field: 'userCouponId', message: 'no such coupon of yours' },
    ]);
  }
  if (row.status === 'USED' || row.order_id !== null) return new DomainError('COUPON_ALREADY_USED');
  return new DomainError('COUPON_NOT_APPLICABLE', undefined, [
    { field: 'userCouponId', message: `the coupon is ${row.status.toLowerCase()}` },
  ]);
}

/** A PENDING order was cancelled or expired: its coupon is free again (EXPIRED if its window closed). */
export const releaseCoupon: Effect = async (e) => {
  const userCouponId = e.order.userCouponId;
  if (!userCouponId) return;
  const [released] = await query<Row<'user_coupons', 'id'>>(
    e.em,
    sql`update user_coupons uc set order_id = null, updated_at = ${e.now}, status = ${returnedStatus('ISSUED', e.now)}
        from coupons c
        where c.id = uc.coupon_id and uc.id = ${userCouponId} and uc.order_id = ${e.order.id}
          and uc.status in ('ISSUED', 'REFUNDED')
        returning uc.id`,
  );
  if (!released) throw notHeld(e, userCouponId, 'releaseCoupon');
};

/** The order's payment succeeded: the coupon is USED, by this order, for good. */
export const useCoupon: Effect = async (e) => {
  const userCouponId = e.order.userCouponId;
  if (!userCouponId) return;
  const used = await db(e.em)
    .updateTable('user_coupons')
    .set({ status: 'USED', used_at: e.now, updated_at: e.now })
    .where('id', '=', userCouponId)
    .where('order_id', '=', e.order.id)
    .where('status', 'in', ['ISSUED', 'REFUNDED'])
    .returning('coupon_id')
    .executeTakeFirst();
  if (!used) throw notHeld(e, userCouponId, 'useCoupon');
  e.outbox.event('COUPON_USED', couponAggregate(used.coupon_id), {
    couponId: used.coupon_id,
    userCouponId,
    orderId: e.order.id,
    userId: e.order.userId,
  });
};

/** A paid order was refunded in full: its coupon is REFUNDED, usable again (EXPIRED if its window closed). */
export const restoreCoupon: Effect = async (e) => {
  const userCouponId = e.order.userCouponId;
  if (!userCouponId) return;
  const [restored] = await query<Row<'user_coupons', 'coupon_id' | 'status'>>(
    e.em,
    sql`update user_coupons uc set order_id = null, updated_at = ${e.now}, status = ${returnedStatus('REFUNDED', e.now)}
        from coupons c
        where c.id = uc.coupon_id and uc.id = ${userCouponId} and uc.order_id = ${e.order.id} and uc.status = 'USED'
        returning uc.coupon_id, uc.status`,
  );
  if (!restored) throw notHeld(e, userCouponId, 'restoreCoupon');
  e.outbox.event('COUPON_RESTORED', couponAggregate(restored.coupon_id), {
    couponId: restored.coupon_id,
    userCouponId,
    orderId: e.order.id,
    userId: e.order.userId,
    status: restored.status,
  });
};
