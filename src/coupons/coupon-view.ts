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

export interface CouponRow {
  id: string;
  code: string;
  name: string;
  discount_type: DiscountType;
  discount_value: number;
  max_discount: number | null;
  min_order_amount: number;
  total_quantity: number;
  issued_count: number;
  valid_from: Date;
  valid_until: Date;
  status: CouponStatus;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

/** The columns of a CouponRow from the `coupons` table aliased `c`. */
export const COUPON_COLUMNS = sql`c.id, c.code, c.name, c.discount_type, c.discount_value, c.max_discount,
  c.min_order_amount, c.total_quantity, c.issued_count, c.valid_from, c.valid_until, c.status, c.created_by,
  c.created_at, c.updated_at`;

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
    createdAt: asIso(row.created_at),
    updatedAt: asIso(row.updated_at),
  };
}

export interface UserCouponRow {
  uc_id: string;
  uc_status: UserCouponStatus;
  uc_issued_at: Date;
  uc_used_at: Date | null;
  uc_order_id: string | null;
}

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
