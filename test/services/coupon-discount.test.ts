import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DiscountTerms, discountFor } from '../../src/coupons/coupon-quote';
import { isDomainError } from '../../src/errors/domain-error';
import { testSeed } from '../support/seed';

// Every property runs from one printed seed; TEST_SEED=<seed> replays it.
fc.configureGlobal({ seed: testSeed('coupon-discount') });

const MAX = 1_000_000_000;
const amount = fc.integer({ min: 0, max: MAX });

const percentage = fc.record({
  discountType: fc.constant('PERCENTAGE' as const),
  discountValue: fc.integer({ min: 1, max: 100 }),
  maxDiscount: fc.option(fc.integer({ min: 1, max: MAX }), { nil: null }),
  minOrderAmount: fc.integer({ min: 0, max: 1_000_000 }),
});
const fixed = fc.record({
  discountType: fc.constant('FIXED' as const),
  discountValue: fc.integer({ min: 1, max: MAX }),
  maxDiscount: fc.constant(null),
  minOrderAmount: fc.integer({ min: 0, max: 1_000_000 }),
});
const anyCoupon = fc.oneof(percentage, fixed);

/** A coupon and a subtotal that reaches its minimum order amount. */
const applicable = <T extends DiscountTerms>(coupon: fc.Arbitrary<T>) =>
  coupon.chain((c) => fc.tuple(fc.constant(c), fc.integer({ min: c.minOrderAmount, max: MAX })));

// An independent reference in exact BigInt arithmetic.
const percentOf = (subtotal: number, percent: number) => Number((BigInt(subtotal) * BigInt(percent)) / 100n);

describe('a PERCENTAGE discount is ⌊subtotal × value / 100⌋, capped by maxDiscount', () => {
  it('matches exact integer arithmetic and the cap', () => {
    fc.assert(
      fc.property(applicable(percentage), ([coupon, subtotal]) => {
        const expected = Math.min(percentOf(subtotal, coupon.discountValue), coupon.maxDiscount ?? Infinity);
        expect(discountFor(coupon, subtotal)).toBe(expected);
      }),
    );
  });

  it('never exceeds the cap', () => {
    fc.assert(
      fc.property(applicable(percentage), ([coupon, subtotal]) => {
        if (coupon.maxDiscount !== null)
          expect(discountFor(coupon, subtotal)).toBeLessThanOrEqual(coupon.maxDiscount);
      }),
    );
  });

  it('gives the whole subtotal at 100 % without a cap', () => {
    fc.assert(
      fc.property(amount, (subtotal) => {
        const coupon = {
          discountType: 'PERCENTAGE' as const,
          discountValue: 100,
          maxDiscount: null,
          minOrderAmount: 0,
        };
        expect(discountFor(coupon, subtotal)).toBe(subtotal);
      }),
    );
  });

  it('rounds down: 10 % of 999 won is 99', () => {
    const coupon = {
      discountType: 'PERCENTAGE' as const,
      discountValue: 10,
      maxDiscount: null,
      minOrderAmount: 0,
    };
    expect(discountFor(coupon, 999)).toBe(99);
    expect(discountFor({ ...coupon, maxDiscount: 50 }, 999)).toBe(50);
  });
});

describe('a FIXED discount is its value, never more than the subtotal', () => {
  it('is min(value, subtotal)', () => {
    fc.assert(
      fc.property(applicable(fixed), ([coupon, subtotal]) => {
        expect(discountFor(coupon, subtotal)).toBe(Math.min(coupon.discountValue, subtotal));
      }),
    );
  });

  it('makes an order worth less than the coupon free, not negative', () => {
    const coupon = {
      discountType: 'FIXED' as const,
      discountValue: 5000,
      maxDiscount: null,
      minOrderAmount: 0,
    };
    expect(discountFor(coupon, 3000)).toBe(3000);
  });
});

describe('every discount is a whole number of won between 0 and the subtotal, growing with it', () => {
  it('stays within [0, subtotal]', () => {
    fc.assert(
      fc.property(applicable(anyCoupon), ([coupon, subtotal]) => {
        const discount = discountFor(coupon, subtotal);
        expect(Number.isSafeInteger(discount)).toBe(true);
        expect(discount).toBeGreaterThanOrEqual(0);
        expect(discount).toBeLessThanOrEqual(subtotal);
      }),
    );
  });

  it('never shrinks when the subtotal grows', () => {
    fc.assert(
      fc.property(applicable(anyCoupon), amount, ([coupon, subtotal], extra) => {
        const larger = Math.min(MAX, subtotal + extra);
        expect(discountFor(coupon, larger)).toBeGreaterThanOrEqual(discountFor(coupon, subtotal));
      }),
    );
  });
});

describe('below minOrderAmount the coupon is refused, not worth 0', () => {
  it('throws COUPON_NOT_APPLICABLE for every subtotal under the minimum', () => {
    fc.assert(
      fc.property(
        anyCoupon.filter((c) => c.minOrderAmount > 0),
        fc.nat(),
        (coupon, below) => {
          const subtotal = below % coupon.minOrderAmount;
          let thrown: unknown;
          try {
            discountFor(coupon, subtotal);
          } catch (error) {
            thrown = error;
          }
          expect(isDomainError(thrown) && thrown.code).toBe('COUPON_NOT_APPLICABLE');
        },
      ),
    );
  });

  it('applies from exactly the minimum on', () => {
    const coupon = {
      discountType: 'FIXED' as const,
      discountValue: 1000,
      maxDiscount: null,
      minOrderAmount: 10_000,
    };
    expect(() => discountFor(coupon, 9_999)).toThrow();
    expect(discountFor(coupon, 10_000)).toBe(1000);
  });
});
