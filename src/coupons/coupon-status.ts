import type { CouponStatus } from '../db/schema/coupon.entity';
import { DomainError } from '../errors/domain-error';

/** What a creator or admin may ask for with PATCH /coupons/{id}/status. */
export const REQUESTABLE_COUPON_STATUSES = ['SUSPENDED', 'ACTIVE', 'CANCELLED'] as const;
export type RequestableCouponStatus = (typeof REQUESTABLE_COUPON_STATUSES)[number];

export interface CouponFacts {
  status: CouponStatus;
  issuedCount: number;
  totalQuantity: number;
  validFrom: Date;
  validUntil: Date;
}

const FINAL: readonly CouponStatus[] = ['EXPIRED', 'CANCELLED'];

const refuse = (from: CouponStatus, to: RequestableCouponStatus, why: string) =>
  new DomainError('INVALID_COUPON_TRANSITION', `A ${from} coupon cannot become ${to}: ${why}`, [
    { field: 'body.status', message: why, from, to },
  ]);

/**
 * The status a coupon takes when it runs by itself: EXHAUSTED once all are issued, CREATED before its
 * window, ACTIVE inside it. Past its window it has expired, which only the expiry step records.
 */
export function naturalStatus(coupon: CouponFacts, now: Date): CouponStatus | null {
  if (now.getTime() >= coupon.validUntil.getTime()) return null;
  if (coupon.issuedCount >= coupon.totalQuantity) return 'EXHAUSTED';
  if (now.getTime() < coupon.validFrom.getTime()) return 'CREATED';
  return 'ACTIVE';
}

/**
 * The transition table of a status request. EXPIRED and CANCELLED are final. SUSPENDED pauses
 * issuing and using; ACTIVE resumes a suspended coupon to its natural status (so it may come back as
 * CREATED or EXHAUSTED) or starts a CREATED one whose window has opened. Asking for the current
 * status changes nothing.
 */
export function decideStatusChange(
  coupon: CouponFacts,
  requested: RequestableCouponStatus,
  now: Date,
): CouponStatus {
  const from = coupon.status;
  if (from === requested) return from;
  if (FINAL.includes(from)) throw refuse(from, requested, `${from.toLowerCase()} is final`);
  if (requested === 'CANCELLED' || requested === 'SUSPENDED') return requested;
  if (from === 'EXHAUSTED') throw refuse(from, requested, 'none are left to issue');
  const natural = naturalStatus(coupon, now);
  if (natural === null) throw refuse(from, requested, 'its validity window has ended');
  if (from === 'CREATED' && natural !== 'ACTIVE') {
    throw refuse(from, requested, 'it starts by itself at validFrom');
  }
  return natural;
}
