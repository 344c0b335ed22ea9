import type { CouponStatus } from '../db/schema/coupon.entity';
import { DomainError, type LocalizedText } from '../errors/domain-error';

/** What a creator or admin may ask for with PATCH /coupons/{id}/status. */
export const REQUESTABLE_COUPON_STATUSES = ['SUSPENDED', 'ACTIVE', 'CANCELLED'] as const;
export type RequestableCouponStatus = (typeof REQUESTABLE_COUPON_STATUSES)[number];

export interface CouponFacts {
  status: CouponStatus;
  issuedCount: number;
  totalQuantity: number;
  validFrom: Date;
  validUntil: Date;
  /** Suspended by an ADMIN: only an ADMIN resumes it. */
  suspendedByAdmin: boolean;
}

/** What a status request leaves the coupon with. */
export interface StatusChange {
  status: CouponStatus;
  suspendedByAdmin: boolean;
}

const FINAL: readonly CouponStatus[] = ['EXPIRED', 'CANCELLED'];

/** `why` in both languages: the detail keeps the English (details stay English). */
const refuse = (from: CouponStatus, to: RequestableCouponStatus, why: LocalizedText) =>
  new DomainError(
    'INVALID_COUPON_TRANSITION',
    {
      en: `A ${from} coupon cannot become ${to}: ${why.en}`,
      ko: `${from} 상태의 쿠폰은 ${to} 상태로 바꿀 수 없습니다: ${why.ko}`,
    },
    [{ field: 'body.status', message: why.en, from, to }],
  );

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
 * status changes nothing. An ADMIN's suspension sticks: only an ADMIN resumes the coupon (its creator
 * may still cancel it).
 */
export function decideStatusChange(
  coupon: CouponFacts,
  requested: RequestableCouponStatus,
  now: Date,
  byAdmin: boolean,
): StatusChange {
  if (coupon.status === requested) return { status: requested, suspendedByAdmin: coupon.suspendedByAdmin };
  if (coupon.suspendedByAdmin && !byAdmin && requested === 'ACTIVE') {
    throw new DomainError('FORBIDDEN', {
      en: 'An admin suspended this coupon: only an admin may resume it',
      ko: '관리자가 정지한 쿠폰은 관리자만 다시 활성화할 수 있습니다',
    });
  }
  const status = nextStatus(coupon, requested, now);
  return { status, suspendedByAdmin: status === 'SUSPENDED' && (byAdmin || coupon.suspendedByAdmin) };
}

function nextStatus(coupon: CouponFacts, requested: RequestableCouponStatus, now: Date): CouponStatus {
  const from = coupon.status;
  if (FINAL.includes(from))
    throw refuse(from, requested, {
      en: `${from.toLowerCase()} is final`,
      ko: `${from} 상태는 최종 상태입니다`,
    });
  if (requested === 'CANCELLED' || requested === 'SUSPENDED') return requested;
  if (from === 'EXHAUSTED')
    throw refuse(from, requested, { en: 'none are left to issue', ko: '발급할 쿠폰이 남아 있지 않습니다' });
  const natural = naturalStatus(coupon, now);
  if (natural === null)
    throw refuse(from, requested, { en: 'its validity window has ended', ko: '유효 기간이 끝났습니다' });
  if (from === 'CREATED' && natural !== 'ACTIVE') {
    throw refuse(from, requested, {
      en: 'it starts by itself at validFrom',
      ko: 'validFrom 시각이 되면 자동으로 시작됩니다',
    });
  }
  return natural;
}
