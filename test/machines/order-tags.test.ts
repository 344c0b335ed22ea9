import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { orderMachine } from '../../machines/order.machine';
import { statesTagged } from '../../src/orders/order-tags';

describe('the machine owns its vocabulary: tags on its states', () => {
  it('holds-stock is every PENDING state, awaits-payment only the payment window', () => {
    expect(statesTagged('holds-stock')).toEqual(['PENDING.awaitingPayment', 'PENDING.paying']);
    expect(statesTagged('awaits-payment')).toEqual(['PENDING.awaitingPayment']);
    expect(statesTagged('auto-confirms')).toEqual(['PAID.active']);
    expect(statesTagged('counts-as-sale')).toEqual(['PAID.active', 'PAID.cancelling', 'CONFIRMED']);
  });

  it('a live snapshot answers hasTag the same way', () => {
    const actor = createActor(orderMachine, {
      input: {
        orderId: 'o',
        userId: 'u',
        total: 1,
        userCouponId: null,
        placedAt: 0,
        paymentTimeoutMs: 1000,
        autoConfirmMs: 1000,
      },
    }).start();
    const snapshot = actor.getSnapshot();
    expect(snapshot.hasTag('holds-stock')).toBe(true);
    expect(snapshot.hasTag('awaits-payment')).toBe(true);
    expect(snapshot.hasTag('counts-as-sale')).toBe(false);
    actor.stop();
  });
});
