import { z } from '@hono/zod-openapi';
import { COUPON_SORT_FIELDS } from '../../coupons/coupon.service';
import { REQUESTABLE_COUPON_STATUSES } from '../../coupons/coupon-status';
import { COUPON_STATUSES, DISCOUNT_TYPES, MAX_COUPON_QUANTITY } from '../../db/schema/coupon.entity';
import { USER_COUPON_STATUSES } from '../../db/schema/user-coupon.entity';
import { text } from '../../validation/text';
import { money, pagingQuery, sortByQuery } from './common';

const MAX_AMOUNT = 1_000_000_000;

export const CouponSchema = z
  .object({
    id: z.uuid(),
    code: z.string(),
    name: z.string(),
    discountType: z.enum(DISCOUNT_TYPES),
    discountValue: z.number().int(),
    maxDiscount: z.number().int().nullable(),
    minOrderAmount: z.number().int(),
    totalQuantity: z.number().int(),
    issuedCount: z.number().int(),
    remaining: z.number().int(),
    validFrom: z.string(),
    validUntil: z.string(),
    status: z.enum(COUPON_STATUSES),
    createdBy: z.uuid(),
    sellerId: z.uuid().nullable().openapi({
      description:
        "a SELLER's coupon discounts that seller's products only; null: an ADMIN's, for the whole order",
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Coupon');

export const UserCouponSchema = z
  .object({
    id: z.uuid(),
    coupon: CouponSchema,
    status: z.enum(USER_COUPON_STATUSES),
    issuedAt: z.string(),
    usedAt: z.string().nullable(),
    orderId: z.uuid().nullable(),
  })
  .openapi('UserCoupon');

export const CouponGateSchema = z
  .object({
    couponId: z.uuid(),
    status: z.enum(COUPON_STATUSES),
    issuedCount: z.number().int(),
    remaining: z.number().int(),
  })
  .openapi('CouponGate');

const instant = z.iso
  .datetime({ offset: true })
  .openapi({ format: 'date-time', example: '2026-12-01T00:00:00Z' })
  .transform((v) => new Date(v));

export const NewCouponBody = z
  .object({
    code: text()
      .trim()
      .regex(/^[A-Za-z0-9_-]{3,40}$/, '3 to 40 letters, digits, - or _')
      .transform((v) => v.toUpperCase())
      .openapi({ example: 'WELCOME10', description: 'stored upper-case; unique' }),
    name: text().trim().min(1).max(100),
    discountType: z.enum(DISCOUNT_TYPES),
    discountValue: z
      .number()
      .int()
      .min(1)
      .max(MAX_AMOUNT)
      .openapi({ description: 'percent (1…100) for PERCENTAGE, won for FIXED' }),
    maxDiscount: z
      .number()
      .int()
      .min(1)
      .max(MAX_AMOUNT)
      .nullable()
      .optional()
      .openapi({ description: 'cap of a PERCENTAGE discount, in won' }),
    minOrderAmount: money(MAX_AMOUNT).optional(),
    totalQuantity: z.number().int().min(1).max(MAX_COUPON_QUANTITY),
    validFrom: instant,
    validUntil: instant,
  })
  .superRefine((body, issues) => {
    if (body.discountType === 'PERCENTAGE' && body.discountValue > 100) {
      issues.addIssue({ code: 'custom', path: ['discountValue'], message: 'a percentage is at most 100' });
    }
    if (body.discountType === 'FIXED' && body.maxDiscount != null) {
      issues.addIssue({
        code: 'custom',
        path: ['maxDiscount'],
        message: 'only a PERCENTAGE coupon has a cap',
      });
    }
    // Refinements also run when a field failed; only two parsed instants can be compared.
    const { validFrom, validUntil } = body as { validFrom: unknown; validUntil: unknown };
    if (
      validFrom instanceof Date &&
      validUntil instanceof Date &&
      validUntil.getTime() <= validFrom.getTime()
    ) {
      issues.addIssue({ code: 'custom', path: ['validUntil'], message: 'must be after validFrom' });
    }
  })
  .openapi('NewCoupon');

export const CouponStatusBody = z
  .object({ status: z.enum(REQUESTABLE_COUPON_STATUSES) })
  .openapi('CouponStatusChange');

export const CouponListQuery = z.object({
  status: z.enum(COUPON_STATUSES).optional(),
  sort: sortByQuery(COUPON_SORT_FIELDS),
  ...pagingQuery,
});

export const MyCouponsQuery = z.object({ status: z.enum(USER_COUPON_STATUSES).optional() });
