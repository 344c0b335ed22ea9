import type { Row } from '../db/database';
import type { CouponStatus, DiscountType } from '../db/schema/coupon.entity';
import type { UserCouponStatus } from '../db/schema/user-coupon.entity';
import { asIso, sql } from '../db/sql';

export interface CouponView {
  id: string;
  code: string;
  name: string;
  discountType: DiscountType;
  discountValue: number;
  maxDiscount: number | null;
  minOrderAmount: number;
  totalQuantity: number;
  issuedCount: number;
  /** What may still be issued, by PostgreSQL's count (the truth). */
  remaining: number;
  validFrom: string;
  validUntil: string;
  status: CouponStatus;
  createdBy: string;
  /** The seller whose products it discounts; null: a platform coupon, for the whole order. */
  sellerId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface UserCouponView {
  id: string;
  coupon: CouponView;
  status: UserCouponStatus;
  issuedAt: string;
  usedAt: string | null;
  /** The order holding or having used it; null while it is free to use. */
  orderId: string | null;
}

export type CouponRow = Row<
  'coupons',
  | 'id'
  | 'code'
  | 'name'
  | 'discount_type'
  | 'discount_value'
  | 'max_discount'
  | 'min_order_amount'
  | 'total_quantity'
  | 'issued_count'
  | 'valid_from'
  | 'valid_until'
  | 'status'
  | 'created_by'
  | 'seller_id'
  | 'suspended_by_admin'
  | 'created_at'
  | 'updated_at'
>;

/** The columns of a CouponRow from the `coupons` table aliased `c`. */
export const COUPON_COLUMNS = sql`c.id, c.code, c.name, c.discount_type, c.discount_value, c.max_discount,
  c.min_order_amount, c.total_quantity, c.issued_count, c.valid_from, c.valid_until, c.status, c.created_by,
  c.seller_id, c.suspended_by_admin, c.created_at, c.updated_at`;

export function toCouponView(row: CouponRow): CouponView {
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    discountType: row.discount_type,
    discountValue: row.discount_value,
    maxDiscount: row.max_discount,
    minOrderAmount: row.min_order_amount,
    totalQuantity: row.total_quantity,
    issuedCount: row.issued_count,
    remaining: Math.max(0, row.total_quantity - row.issued_count),
    validFrom: asIso(row.valid_from),
    validUntil: asIso(row.valid_until),
    status: row.status,
    createdBy: row.created_by,
    sellerId: row.seller_id,
    createdAt: asIso(row.created_at),
    updatedAt: asIso(row.updated_at),
  };
}

type UserCouponColumns = Row<'user_coupons', 'id' | 'status' | 'issued_at' | 'used_at' | 'order_id'>;

/** The user coupon's columns prefixed `uc_`, beside a coupon's in one row. */
export type UserCouponRow = {
  [Column in keyof UserCouponColumns as `uc_${Column}`]: UserCouponColumns[Column];
};

export const USER_COUPON_COLUMNS = sql`uc.id as uc_id, uc.status as uc_status, uc.issued_at as uc_issued_at,
  uc.used_at as uc_used_at, uc.order_id as uc_order_id`;

export function toUserCouponView(row: UserCouponRow & CouponRow): UserCouponView {
  return {
    id: row.uc_id,
    coupon: toCouponView(row),
    status: row.uc_status,
    issuedAt: asIso(row.uc_issued_at),
    usedAt: row.uc_used_at ? asIso(row.uc_used_at) : null,
    orderId: row.uc_order_id,
  };
}
