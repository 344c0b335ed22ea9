import { describe, expect, it } from 'vitest';
import { initialTransition } from 'xstate';
import { type OrderEvent, orderMachine } from '../../machines/order.machine';
import type { AnyOrderEvent } from './order-alphabet';
import { effectNames, leafOf, ORDER_INPUT, step } from './order-graph';
import { AUTO_CONFIRM_DELAY_ELAPSED, PAYMENT_WINDOW_ELAPSED } from './order-spec';

/** Stories SPEC §3 tells, played from placement; every event on the way must be accepted. */
describe('stories from SPEC §3', () => {
  const T = ORDER_INPUT.placedAt;
  const expiresAt = T + ORDER_INPUT.paymentTimeoutMs;
  const total = ORDER_INPUT.total;
  const pay = { type: 'PAY', paymentId: 'payment-1', method: 'CARD', at: T + 60_000 } as const;
  const paid = { type: 'PAYMENT_SUCCEEDED', paymentId: 'payment-1', amount: total, at: T + 120_000 } as const;
  const refundLanded = (amount: number, restock: boolean, at: number) =>
    ({
      type: 'REFUND_COMPLETED',
      refundId: `refund-${amount}`,
      paymentId: 'payment-1',
      amount,
      restock,
      at,
    }) as const;

  function play(...events: AnyOrderEvent[]) {
    let [snapshot, actions] = initialTransition(orderMachine, ORDER_INPUT);
    for (const event of events) {
      expect(snapshot.can(event as OrderEvent), `${event.type} in ${leafOf(snapshot)}`).toBe(true);
      [snapshot, actions] = step(snapshot, event);
    }
    return { snapshot, effects: effectNames(actions) };
  }

  it('a payment in flight holds the payment window open: EXPIRE and the timer wait, the late success pays', () => {
    const { snapshot } = play({ ...pay, at: expiresAt - 1 });
    expect(snapshot.can({ type: 'EXPIRE', at: expiresAt + 1 })).toBe(false);
    expect(snapshot.can({ type: PAYMENT_WINDOW_ELAPSED, at: expiresAt } as unknown as OrderEvent)).toBe(
      false,
    );
    const after = step(snapshot, { ...paid, at: expiresAt + 60_000 })[0];
    expect(leafOf(after)).toBe('PAID.active');
    expect(after.context.paidAt).toBe(expiresAt + 60_000);
  });

  it('a capture landing after its payment was reported failed is refunded, and its refund settles the books', () => {
    const failed = {
      type: 'PAYMENT_FAILED',
      paymentId: 'payment-1',
      reason: 'GATEWAY_TIMEOUT',
      at: T + 90_000,
    } as const;
    const late = play(pay, failed, paid);
    expect(late.effects).toEqual(['refundLateCapture']);
    const { snapshot } = play(pay, failed, paid, refundLanded(total, false, T + 180_000));
    expect(leafOf(snapshot)).toBe('CANCELLED');
    expect(snapshot.context).toMatchObject({
      cancelReason: 'PAYMENT_FAILED',
      refundedAmount: total,
      pendingRefundAmount: 0,
    });
  });

  it('partial refunds add up; the one completing the total cancels the order as REFUNDED', () => {
    const refund = (amount: number) =>
      ({ type: 'REFUND', refundId: `refund-${amount}`, amount, restock: true, at: T + 200_000 }) as const;
    const halfway = play(pay, paid, refund(2_500), refund(7_500));
    expect(halfway.snapshot.context).toMatchObject({ refundedAmount: 0, pendingRefundAmount: total });
    expect(halfway.snapshot.can({ type: 'CANCEL', at: T + 200_000 })).toBe(false);
    const { snapshot, effects } = play(
      pay,
      paid,
      refund(2_500),
      refund(7_500),
      refundLanded(2_500, true, T + 300_000),
      refundLanded(7_500, true, T + 400_000),
    );
    expect(leafOf(snapshot)).toBe('CANCELLED');
    expect(snapshot.context).toMatchObject({
      cancelReason: 'REFUNDED',
      refundedAmount: total,
      pendingRefundAmount: 0,
    });
    expect(effects).toContain('restockItems');
  });

  it('a cancellation refund that fails puts the order back in PAID.active; the sweeper’s AUTO_CONFIRM confirms it', () => {
    const due = paid.at + ORDER_INPUT.autoConfirmMs;
    const { snapshot } = play(pay, paid, { type: 'CANCEL', at: T + 200_000 });
    expect(snapshot.can({ type: AUTO_CONFIRM_DELAY_ELAPSED, at: due } as unknown as OrderEvent)).toBe(false);
    const failed = {
      type: 'REFUND_FAILED',
      refundId: 'refund-cancel',
      paymentId: 'payment-1',
      amount: total,
      at: T + 300_000,
    } as const;
    const back = play(pay, paid, { type: 'CANCEL', at: T + 200_000 }, failed, {
      type: 'AUTO_CONFIRM',
      at: due,
    });
    expect(leafOf(back.snapshot)).toBe('CONFIRMED');
    expect(back.snapshot.context.pendingRefundAmount).toBe(0);
  });

  // Cancelling a PAID order restocks (SPEC §3). A partial refund asked before the cancel, without
  // restock, may land after the cancellation's own refund (restock: true): the order must still restock.
  it('cancelling a paid order restocks, whichever of its refunds lands last', () => {
    const partial = {
      type: 'REFUND',
      refundId: 'refund-2500',
      amount: 2_500,
      restock: false,
      at: T + 200_000,
    } as const;
    const cancel = { type: 'CANCEL', at: T + 210_000 } as const;
    const partialLast = play(
      pay,
      paid,
      partial,
      cancel,
      refundLanded(7_500, true, T + 300_000),
      refundLanded(2_500, false, T + 310_000),
    );
    const partialFirst = play(
      pay,
      paid,
      partial,
      cancel,
      refundLanded(2_500, false, T + 300_000),
      refundLanded(7_500, true, T + 310_000),
    );
    expect(leafOf(partialFirst.snapshot)).toBe('CANCELLED');
    expect(partialFirst.effects).toContain('restockItems');
    expect(leafOf(partialLast.snapshot)).toBe('CANCELLED');
    expect(partialLast.effects).toContain('restockItems');
  });

  // PAID and CONFIRMED ignore a repeated PAYMENT_SUCCEEDED of their own payment; once that money has
  // been refunded by cancelling, refunding the capture again would pay back twice (SPEC §8.2).
  it('a repeated success of the payment a cancelled order already refunded is not refunded again', () => {
    const { snapshot } = play(
      pay,
      paid,
      { type: 'CANCEL', at: T + 200_000 },
      refundLanded(total, true, T + 300_000),
    );
    expect(leafOf(snapshot)).toBe('CANCELLED');
    expect(snapshot.context.refundedAmount).toBe(total);
    expect(snapshot.can({ ...paid, at: T + 400_000 })).toBe(false);
  });
});
