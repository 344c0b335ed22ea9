import { describe, expect, it } from 'vitest';
import { ORDER_MACHINE_VERSION, type OrderContext, type OrderEvent } from '../../machines/order.machine';
import {
  allowedActions,
  persistOrderSnapshot,
  type RejectionCode,
  rejectionFor,
  restoreOrderSnapshot,
  stateOf,
  statusOf,
} from '../../machines/order-snapshot';
import { ALPHABET, laterThanAll } from './order-alphabet';
import { effectNames, exploreSituations, step, timersOf } from './order-graph';
import { restOf } from './order-spec';

const situations = exploreSituations();
const applicable = (c: OrderContext) => ALPHABET.filter((variant) => variant.applies?.(c) ?? true);

/** `PAID.active` → `{ PAID: 'active' }`, the value `snapshot.matches()` takes. */
const stateValueOf = (state: string) => {
  const [top, sub] = state.split('.');
  return sub ? { [top!]: sub } : top!;
};

describe('statusOf is the top-level state, stateOf the dotted leaf', () => {
  for (const { label, state, snapshot } of situations) {
    it(`${label}: status ${state.split('.')[0]}, state ${state}`, () => {
      expect(snapshot.matches(stateValueOf(state) as Parameters<typeof snapshot.matches>[0])).toBe(true);
      expect(statusOf(snapshot)).toBe(state.split('.')[0]);
      expect(stateOf(snapshot)).toBe(state);
    });
  }
});

/** API.md's allowedActions, in its order; REFUND while at least one won is left to refund. */
function expectedActions(state: string, c: OrderContext, at: number): string[] {
  const moneyLeft = restOf(c) > 0;
  if (state === 'PENDING.awaitingPayment') return at < c.expiresAt ? ['PAY', 'CANCEL'] : ['CANCEL'];
  if (state === 'PAID.active') return moneyLeft ? ['CANCEL', 'CONFIRM', 'REFUND'] : ['CONFIRM'];
  if (state === 'CONFIRMED') return moneyLeft ? ['REFUND'] : [];
  return [];
}

describe('allowedActions lists the client commands the machine accepts now', () => {
  for (const { label, state, snapshot } of situations) {
    const at = laterThanAll(snapshot.context);
    const expected = expectedActions(state, snapshot.context, at);
    it(`${label}: ${expected.join(', ') || 'none'}`, () => {
      expect(allowedActions(snapshot, at)).toEqual(expected);
    });
  }

  it('PENDING.awaitingPayment once the payment window has passed: CANCEL only', () => {
    const placed = situations.find((s) => s.state === 'PENDING.awaitingPayment')!.snapshot;
    expect(allowedActions(placed, placed.context.expiresAt)).toEqual(['CANCEL']);
  });
});

/**
 * The API error for a client command the machine refuses (API.md "Error codes"). A refund without an
 * amount asks for the rest, so with nothing left it arrives as a refund of 0: REFUND_EXCEEDS_PAYMENT;
 * so does any refund of an order whose payment is already all returned (or being returned), whatever
 * state that left it in.
 */
function expectedRejection(state: string, type: string, c: OrderContext): RejectionCode {
  if (type === 'PAY') return state === 'PENDING.paying' ? 'PAYMENT_IN_PROGRESS' : 'ORDER_NOT_PAYABLE';
  if (type === 'CANCEL')
    return state === 'CANCELLED' ? 'ORDER_ALREADY_CANCELLED' : 'INVALID_ORDER_TRANSITION';
  const fullyReturned = c.paidAt !== null && restOf(c) <= 0;
  if (type === 'REFUND' && (state === 'PAID.active' || state === 'CONFIRMED' || fullyReturned))
    return 'REFUND_EXCEEDS_PAYMENT';
  return 'INVALID_ORDER_TRANSITION';
}

describe('rejectionFor gives the API error of every client command the machine refuses', () => {
  const refused = situations.flatMap((situation) =>
    applicable(situation.snapshot.context)
      .filter((variant) => ['PAY', 'CANCEL', 'CONFIRM', 'REFUND'].includes(variant.type))
      .map((variant) => ({
        situation,
        variant,
        event: variant.make(situation.snapshot.context) as OrderEvent,
      }))
      .filter(({ situation, event }) => !situation.snapshot.can(event)),
  );

  for (const { situation, variant, event } of refused) {
    const code = expectedRejection(situation.state, event.type, situation.snapshot.context);
    it(`${situation.label} + ${variant.name} → ${code}`, () => {
      expect(rejectionFor(situation.snapshot, event)).toBe(code);
    });
  }

  it('every rejection code is produced somewhere', () => {
    const codes = new Set(refused.map(({ situation, event }) => rejectionFor(situation.snapshot, event)));
    expect([...codes].sort()).toEqual([
      'INVALID_ORDER_TRANSITION',
      'ORDER_ALREADY_CANCELLED',
      'ORDER_NOT_PAYABLE',
      'PAYMENT_IN_PROGRESS',
      'REFUND_EXCEEDS_PAYMENT',
    ]);
  });
});

describe('a persisted snapshot is restored to an equal one that still transitions', () => {
  for (const { label, snapshot } of situations) {
    it(`${label}: JSON round trip, then every event does what it did before`, () => {
      const stored = JSON.parse(JSON.stringify(persistOrderSnapshot(snapshot)));
      expect(stored.machineVersion).toBe(ORDER_MACHINE_VERSION);
      const restored = restoreOrderSnapshot(stored);
      expect(restored.value).toEqual(snapshot.value);
      expect(restored.context).toEqual(snapshot.context);
      expect(restored.status).toBe(snapshot.status);
      expect(persistOrderSnapshot(restored)).toEqual(stored);
      for (const variant of applicable(snapshot.context)) {
        const event = variant.make(snapshot.context);
        expect(restored.can(event as OrderEvent), variant.name).toBe(snapshot.can(event as OrderEvent));
        const [fromRestored, actionsFromRestored] = step(restored, event);
        const [fromOriginal, actionsFromOriginal] = step(snapshot, event);
        expect(fromRestored.value, variant.name).toEqual(fromOriginal.value);
        expect(fromRestored.context, variant.name).toEqual(fromOriginal.context);
        expect(effectNames(actionsFromRestored), variant.name).toEqual(effectNames(actionsFromOriginal));
        expect(timersOf(actionsFromRestored), variant.name).toEqual(timersOf(actionsFromOriginal));
      }
    });
  }

  it('refuses a snapshot stored by another machine version', () => {
    const stored = persistOrderSnapshot(situations[0]!.snapshot);
    for (const machineVersion of [ORDER_MACHINE_VERSION - 1, ORDER_MACHINE_VERSION + 1]) {
      expect(() => restoreOrderSnapshot({ ...stored, machineVersion })).toThrow(
        `No migration from order machine v${machineVersion}`,
      );
    }
  });
});
