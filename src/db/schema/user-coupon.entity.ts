import { defineEntity, p } from '@mikro-orm/postgresql';
import { uuidv7 } from '../../ids';
import { Coupon } from './coupon.entity';
import { User } from './user.entity';

export const USER_COUPON_STATUSES = ['ISSUED', 'USED', 'EXPIRED', 'REFUNDED'] as const;
export type UserCouponStatus = (typeof USER_COUPON_STATUSES)[number];

/**
 * A coupon issued to one user (at most one per coupon and user). `orderId` is set while an order
 * holds it (status still ISSUED or REFUNDED) and stays on the order that USED it. It is a plain
 * column, not a foreign key: the hold is written in the placing transaction before the order row.
 */
export const UserCouponSchema = defineEntity({
  name: 'UserCoupon',
  tableName: 'user_coupons',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    couponId: () => p.manyToOne(Coupon).mapToPk().fieldName('coupon_id'),
    userId: () => p.manyToOne(User).mapToPk().fieldName('user_id'),
    status: p.enum(USER_COUPON_STATUSES).default('ISSUED'),
    orderId: p.uuid().nullable(),
    issuedAt: p.datetime(),
    usedAt: p.datetime().nullable(),
    updatedAt: p.datetime(),
  },
  uniques: [{ name: 'user_coupons_coupon_user_unique', properties: ['couponId', 'userId'] }],
  indexes: [
    { name: 'user_coupons_user_issued_at_index', properties: ['userId', 'issuedAt'] },
    { name: 'user_coupons_order_id_index', properties: ['orderId'], where: 'order_id is not null' },
  ],
  checks: [
    {
      name: 'user_coupons_used_by_an_order',
      expression: "status <> 'USED' or (order_id is not null and used_at is not null)",
    },
  ],
});
export class UserCoupon extends UserCouponSchema.class {}
UserCouponSchema.setClass(UserCoupon);
