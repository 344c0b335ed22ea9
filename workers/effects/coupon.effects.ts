import type { Effect, EffectContext } from './effect-context';

// Coupons arrive with their own issue; until then placement refuses a userCouponId, so an order
// never holds one and these effects have nothing to do.
function withoutCoupon(e: EffectContext): void {
  if (e.order.userCouponId)
    throw new Error(`order ${e.order.id} holds a coupon, but coupons are not wired yet`);
}

export const holdCoupon: Effect = withoutCoupon;
export const releaseCoupon: Effect = withoutCoupon;
export const useCoupon: Effect = withoutCoupon;
export const restoreCoupon: Effect = withoutCoupon;
