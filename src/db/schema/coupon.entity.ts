import { defineEntity, p } from '@mikro-orm/postgresql';
import { uuidv7 } from '../../ids';
import { User } from './user.entity';

export const COUPON_STATUSES = [
  'CREATED',
  'ACTIVE',
  'EXHAUSTED',
  'EXPIRED',
  'SUSPENDED',
  'CANCELLED',
] as const;
export type CouponStatus = (typeof COUPON_STATUSES)[number];

export const DISCOUNT_TYPES = ['PERCENTAGE', 'FIXED'] as const;
export type DiscountType = (typeof DISCOUNT_TYPES)[number];

export const MAX_COUPON_QUANTITY = 1_000_000;

/**
 * A coupon campaign. `issuedCount` is PostgreSQL's own count of issued user coupons: issuance raises
 * it with a conditional update, and the CHECK below makes over-issue impossible whatever Redis says.
 */
export const CouponSchema = defineEntity({
  name: 'Coupon',
  tableName: 'coupons',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    code: p.string().length(40).unique(),
    name: p.string().length(100),
    discountType: p.enum(DISCOUNT_TYPES),
    discountValue: p.integer(),
    maxDiscount: p.integer().nullable(),
    minOrderAmount: p.integer().default(0),
    totalQuantity: p.integer(),
    issuedCount: p.integer().default(0),
    validFrom: p.datetime(),
    validUntil: p.datetime(),
    status: p.enum(COUPON_STATUSES),
    /** Suspended by an ADMIN: only an ADMIN may resume it (its creator may still cancel it). */
    suspendedByAdmin: p.boolean().default(false),
    createdBy: () => p.manyToOne(User).mapToPk().fieldName('created_by').index(),
    /** The seller whose products the coupon discounts (a SELLER's coupon); null: an ADMIN's, for the whole order. */
    sellerId: () => p.manyToOne(User).mapToPk().fieldName('seller_id').nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [
    { name: 'coupons_created_at_index', properties: ['createdAt'] },
    { name: 'coupons_status_created_at_index', properties: ['status', 'createdAt'] },
    // The sweeper's scans: coupons past their window that are not final yet, and those due to start.
    {
      name: 'coupons_open_valid_until_index',
      properties: ['validUntil'],
      where: "status in ('CREATED', 'ACTIVE', 'EXHAUSTED', 'SUSPENDED')",
    },
    { name: 'coupons_created_valid_from_index', properties: ['validFrom'], where: "status = 'CREATED'" },
  ],
  checks: [
    {
      name: 'coupons_issued_within_quantity',
      expression: `issued_count >= 0 and issued_count <= total_quantity and total_quantity >= 1 and total_quantity <= ${MAX_COUPON_QUANTITY}`,
    },
    {
      name: 'coupons_discount_sane',
      expression:
        "discount_value > 0 and (discount_type <> 'PERCENTAGE' or discount_value <= 100) and (max_discount is null or max_discount > 0) and min_order_amount >= 0",
    },
    { name: 'coupons_window_sane', expression: 'valid_until > valid_from' },
  ],
});
export class Coupon extends CouponSchema.class {}
CouponSchema.setClass(Coupon);
