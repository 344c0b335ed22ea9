import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { testSeed } from '../support/seed';
import { leafOf } from './order-graph';
import { historyArbitrary, type Move, OrderWorld } from './order-world';

/**
 * Random histories of one order: client commands at any moment, the clock moving, timeouts firing or
 * lost, and the payment actor answering each request once, in any order. What must hold throughout
 * (SPEC §3, §8.2), and once every request has been answered.
 */

const histories = historyArbitrary;
const RUNS = { numRuns: 200, seed: testSeed('order-invariants') };
const RUNS_FOR_RARE_CASES = { ...RUNS, numRuns: 1000 };

/** Plays the moves, checking `during` after each, then answers everything with success. */
function live(moves: Move[], during: (world: OrderWorld) => void): OrderWorld {
  const world = new OrderWorld();
  during(world);
  for (const move of moves) {
    world.play(move);
    during(world);
  }
  world.settleEverything();
  during(world);
  return world;
}

const nothing = () => {};
/** A property that returns early for most histories must show the case it is about did occur. */
function expectCovered(cases: number, what: string, runs = RUNS.numRuns, atLeast = 5) {
  expect(cases, `${what}: too few of ${runs} histories (seed ${RUNS.seed})`).toBeGreaterThanOrEqual(atLeast);
  console.log(`[coverage] ${what}: ${cases} of ${runs}`);
}
const statusOf = (world: OrderWorld) => leafOf(world.snapshot).split('.')[0]!;
const FORWARD = new Set(['PENDING→PAID', 'PENDING→CANCELLED', 'PAID→CONFIRMED', 'PAID→CANCELLED']);

describe('money: refunds never exceed what was paid and the order’s books match the money that moved', () => {
  function booksBalance(world: OrderWorld) {
    const c = world.snapshot.context;
    expect(c.pendingRefundAmount).toBeGreaterThanOrEqual(0);
    expect(c.refundedAmount).toBeGreaterThanOrEqual(0);
    expect(c.refundedAmount + c.pendingRefundAmount).toBeLessThanOrEqual(c.total);
    // Every answer from the payment actor was taken: none is ignored and lost from the books.
    expect(world.ignoredAnswers).toEqual([]);
    expect(c.refundedAmount).toBe(c.paymentId ? (world.refunded.get(c.paymentId) ?? 0) : 0);
    expect(c.pendingRefundAmount).toBe(world.pendingRefunds());
    for (const [paymentId, held] of world.moneyHeld()) {
      expect(held - world.refundsUnderWay(paymentId), `refunds of ${paymentId}`).toBeGreaterThanOrEqual(0);
    }
  }

  it('holds after every step of any history', () => {
    fc.assert(
      fc.property(histories, (moves) => void live(moves, booksBalance)),
      RUNS,
    );
  });

  it('once everything is answered, a CANCELLED order keeps only what a failed refund left to staff', () => {
    let checked = 0;
    let withFailedRefund = 0;
    fc.assert(
      fc.property(histories, (moves) => {
        const world = live(moves, nothing);
        if (statusOf(world) !== 'CANCELLED') return;
        checked += 1;
        if (world.failedRefunds.size > 0) withFailedRefund += 1;
        for (const [paymentId, held] of world.moneyHeld()) {
          expect(held, `held of ${paymentId}`).toBeLessThanOrEqual(world.failedRefunds.get(paymentId) ?? 0);
        }
      }),
      RUNS_FOR_RARE_CASES,
    );
    expectCovered(checked, 'CANCELLED orders', RUNS_FOR_RARE_CASES.numRuns);
    // About 1.5 % of histories: enough runs that none is a ~1e-6 chance.
    expectCovered(withFailedRefund, 'CANCELLED orders with a failed refund', RUNS_FOR_RARE_CASES.numRuns, 1);
  });

  it('once everything is answered and no refund failed, a CANCELLED order that took money refunded all of it', () => {
    let tookMoney = 0;
    fc.assert(
      fc.property(histories, (moves) => {
        const world = live(moves, nothing);
        if (statusOf(world) !== 'CANCELLED' || world.failedRefunds.size > 0) return;
        const c = world.snapshot.context;
        for (const held of world.moneyHeld().values()) expect(held).toBe(0);
        const captured = c.paymentId ? (world.captured.get(c.paymentId) ?? 0) : 0;
        if (captured > 0) tookMoney += 1;
        expect(c.refundedAmount + c.pendingRefundAmount).toBe(captured);
      }),
      RUNS,
    );
    expectCovered(tookMoney, 'CANCELLED orders that took money, no refund failed');
  });

  it('once everything is answered, a PAID or CONFIRMED order holds exactly its total less its refunds', () => {
    let checked = 0;
    let refunded = 0;
    fc.assert(
      fc.property(histories, (moves) => {
        const world = live(moves, nothing);
        if (!['PAID', 'CONFIRMED'].includes(statusOf(world))) return;
        const c = world.snapshot.context;
        checked += 1;
        if (c.refundedAmount > 0) refunded += 1;
        expect(world.captured.get(c.paymentId!)).toBe(c.total);
        for (const [paymentId, held] of world.moneyHeld()) {
          const owned = paymentId === c.paymentId ? c.total - c.refundedAmount : 0;
          expect(held - owned, `held of ${paymentId}`).toBeLessThanOrEqual(
            world.failedRefunds.get(paymentId) ?? 0,
          );
          expect(held).toBeGreaterThanOrEqual(owned);
        }
      }),
      RUNS,
    );
    expectCovered(checked, 'PAID or CONFIRMED orders');
    expectCovered(refunded, 'PAID or CONFIRMED orders partly refunded');
  });
});

describe('lifecycle: an order only moves forward along SPEC §3', () => {
  it('PENDING → PAID → CONFIRMED, PENDING/PAID → CANCELLED; a final state is never left', () => {
    fc.assert(
      fc.property(histories, (moves) => {
        const world = live(moves, nothing);
        expect(world.statuses[0]).toBe('PENDING');
        const steps = world.statuses.slice(1).map((to, i) => `${world.statuses[i]}→${to}`);
        expect(steps.filter((s) => !FORWARD.has(s))).toEqual([]);
      }),
      RUNS,
    );
  });

  it('a timeout is pending only while its state lasts', () => {
    fc.assert(
      fc.property(histories, (moves) => {
        live(moves, (world) => {
          const state = leafOf(world.snapshot);
          if (world.timers.has('paymentWindow')) expect(state).toBe('PENDING.awaitingPayment');
          if (world.timers.has('autoConfirmDelay')) expect(state.startsWith('PAID.')).toBe(true);
        });
      }),
      RUNS,
    );
  });

  it('every compensation undoes something done before, and each effect happens at most once', () => {
    fc.assert(
      fc.property(histories, (moves) => {
        const w = live(moves, nothing);
        const status = statusOf(w);
        expect([w.count('reserveStock'), w.count('holdCoupon'), w.count('emit(ORDER_CREATED)')]).toEqual([
          1, 1, 1,
        ]);
        expect(w.count('commitStock') + w.count('releaseStock')).toBeLessThanOrEqual(1);
        expect(w.count('useCoupon') + w.count('releaseCoupon')).toBeLessThanOrEqual(1);
        expect(w.count('restockItems')).toBeLessThanOrEqual(w.count('commitStock'));
        expect(w.count('restoreCoupon')).toBeLessThanOrEqual(w.count('useCoupon'));
        expect(w.count('createPayment')).toBeLessThanOrEqual(1);
        expect(w.count('completePayment') + w.count('failPayment')).toBeLessThanOrEqual(
          w.count('createPayment'),
        );
        expect(w.count('emit(ORDER_PAID)')).toBe(w.count('completePayment'));
        expect(w.count('emit(ORDER_CANCELLED)')).toBe(status === 'CANCELLED' ? 1 : 0);
        expect(w.count('emit(ORDER_CONFIRMED)')).toBe(status === 'CONFIRMED' ? 1 : 0);
        const paid = w.count('completePayment') === 1;
        if (status !== 'PENDING') {
          expect(w.count(paid ? 'commitStock' : 'releaseStock')).toBe(1);
          expect(w.count(paid ? 'useCoupon' : 'releaseCoupon')).toBe(1);
        }
        if (status === 'CANCELLED' && paid) expect(w.count('restoreCoupon')).toBe(1);
      }),
      RUNS,
    );
  });
});
