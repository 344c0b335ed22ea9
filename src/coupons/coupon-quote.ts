import type { EntityManager } from '@mikro-orm/postgresql';
import type { Row } from '../db/database';
import type { CouponStatus, DiscountType } from '../db/schema/coupon.entity';
import { query, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';

export interface DiscountTerms {
  discountType: DiscountType;
  discountValue: number;
  maxDiscount: number | null;
  minOrderAmount: number;
}

/**
 * The discount a coupon gives on `subtotal` (integer won): PERCENTAGE is ⌊subtotal × value / 100⌋
 * capped by maxDiscount, FIXED is its value; never more than the subtotal. Below minOrderAmount the
 * coupon does not apply at all, which is a refusal (COUPON_NOT_APPLICABLE), not a discount of 0.
 */
export function discountFor(coupon: DiscountTerms, subtotal: number): number {
  if (subtotal < coupon.minOrderAmount) {
    throw new DomainError('COUPON_NOT_APPLICABLE', undefined, [
      {
        field: 'userCouponId',
        message: `the order must come to at least ${coupon.minOrderAmount} won`,
        minOrderAmount: coupon.minOrderAmount,
        subtotal,
      },
    ]);
  }
  let discount: number;
  if (coupon.discountType === 'PERCENTAGE') {
    // Integer arithmetic: no floating-point rounding at any size of subtotal we accept.
    const scaled = subtotal * coupon.discountValue;
    discount = (scaled - (scaled % 100)) / 100;
    if (coupon.maxDiscount !== null) discount = Math.min(discount, coupon.maxDiscount);
  } else {
    discount = coupon.discountValue;
  }
  return Math.max(0, Math.min(discount, subtotal));
}

export interface CouponQuoteRequest {
  userId: string;
  userCouponId: string;
  /** The order's lines at the prices it is placed at, with their products' sellers. */
  lines: readonly { productId: string; quantity: number; unitPrice: number; sellerId: string }[];
  at: Date;
}

export interface CouponQuote {
  discount: number;
  code: string;
}

type QuoteRow = Row<'user_coupons', 'user_id' | 'status' | 'order_id'> &
  Row<
    'coupons',
    | 'code'
    | 'discount_type'
    | 'discount_value'
    | 'max_discount'
    | 'min_order_amount'
    | 'valid_from'
    | 'valid_until'
    | 'seller_id'
  > & { coupon_status: CouponStatus };

// EXHAUSTED means "none left to issue": the coupons already issued stay usable.
const USABLE_COUPON_STATUSES: readonly CouponStatus[] = ['ACTIVE', 'EXHAUSTED'];

const notApplicable = (message: string) =>
  new DomainError('COUPON_NOT_APPLICABLE', undefined, [{ field: 'userCouponId', message }]);

/**
 * Validates a user coupon for an order being placed and computes its discount. Runs inside the
 * placing transaction, before the holdCoupon effect takes the coupon (which is what decides a race
 * between two orders; this check only gives the clear answer in the ordinary case).
 */
export async function quoteCoupon(em: EntityManager, request: CouponQuoteRequest): Promise<CouponQuote> {
  const [row] = await query<QuoteRow>(
    em,
    sql`select uc.user_id, uc.status, uc.order_id, c.code, c.status as coupon_status, c.discount_type,
               c.discount_value, c.max_discount, c.min_order_amount, c.valid_from, c.valid_until, c.seller_id
        from user_coupons uc join coupons c on c.id = uc.coupon_id
        where uc.id = ${request.userCouponId}`,
  );
  if (!row || row.user_id !== request.userId) throw notApplicable('no such coupon of yours');
  if (row.status === 'USED' || row.order_id !== null) throw new DomainError('COUPON_ALREADY_USED');
  if (row.status === 'EXPIRED') throw notApplicable('the coupon has expired');
  if (!USABLE_COUPON_STATUSES.includes(row.coupon_status)) {
    throw notApplicable(`the coupon is ${row.coupon_status.toLowerCase()}`);
  }
  const at = request.at.getTime();
  if (at < new Date(row.valid_from).getTime()) throw notApplicable('the coupon is not valid yet');
  if (at >= new Date(row.valid_until).getTime()) throw notApplicable('the coupon has expired');
  const discount = discountFor(
    {
      discountType: row.discount_type,
      discountValue: row.discount_value,
      maxDiscount: row.max_discount,
      minOrderAmount: row.min_order_amount,
    },
    discountedSubtotal(row.seller_id, request.lines),
  );
  return { discount, code: row.code };
}

/**
 * What a coupon discounts: the whole order for a platform coupon; a seller's coupon only that
 * seller's lines (a seller funds discounts on their own goods, never on another seller's). An order
 * with none of them is refused, not discounted by 0.
 */
function discountedSubtotal(sellerId: string | null, lines: CouponQuoteRequest['lines']): number {
  const eligible = sellerId === null ? lines : lines.filter((l) => l.sellerId === sellerId);
  if (eligible.length === 0) {
    throw notApplicable("the coupon applies to its seller's products only, and the order has none");
  }
  return eligible.reduce((sum, l) => sum + l.unitPrice * l.quantity, 0);
}
