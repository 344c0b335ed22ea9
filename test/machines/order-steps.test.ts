import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { type OrderEvent, orderMachine } from '../../machines/order.machine';
import type { OrderSnapshot } from '../../machines/order-snapshot';
import { initialOrderStep, orderStep } from '../../machines/order-steps';
import { testSeed } from '../support/seed';
import { ALPHABET } from './order-alphabet';
import { ORDER_INPUT } from './order-graph';
import { historyArbitrary, OrderWorld } from './order-world';

/**
 * The workers step the machine through machines/order-steps.ts (one shared inert scope) instead of
 * xstate's `initialTransition`/`transition` (a throwaway actor per call). The two must agree exactly:
 * the same next snapshot (as stored) and the same actions, in the same order, with the same params.
 */
const RUNS = { numRuns: 100, seed: testSeed('order-steps') };

const stored = (snapshot: OrderSnapshot) => JSON.stringify(orderMachine.getPersistedSnapshot(snapshot));
const described = (actions: { type: string; params?: unknown }[]) =>
  JSON.stringify(actions.map(({ type, params }) => ({ type, params })));

function expectSameStep(before: OrderSnapshot, event: OrderEvent, what: string) {
  const [ours, ourActions] = orderStep(before, event);
  const [xstates, xstateActions] = transition(orderMachine, before, event);
  expect(stored(ours), what).toBe(stored(xstates));
  expect(described(ourActions), what).toBe(described(xstateActions));
  return ourActions.length;
}

describe('the order machine’s steps without a throwaway actor', () => {
  it('start an order exactly as initialTransition does', () => {
    const [ours, ourActions] = initialOrderStep(ORDER_INPUT);
    const [xstates, xstateActions] = initialTransition(orderMachine, ORDER_INPUT);
    expect(stored(ours)).toBe(stored(xstates));
    expect(described(ourActions)).toBe(described(xstateActions));
    expect(ourActions.length).toBeGreaterThan(0);
  });

  it('take every event in every state a random history reaches exactly as transition does', () => {
    let compared = 0;
    let withActions = 0;
    fc.assert(
      fc.property(historyArbitrary, (moves) => {
        const world = new OrderWorld((snapshot) => {
          for (const variant of ALPHABET) {
            if (variant.applies && !variant.applies(snapshot.context)) continue;
            const event = variant.make(snapshot.context) as OrderEvent;
            const what = `${variant.name} in ${JSON.stringify(snapshot.value)}`;
            if (expectSameStep(snapshot, event, what) > 0) withActions++;
            compared++;
          }
        });
        for (const move of moves) world.play(move);
        world.settleEverything();
      }),
      RUNS,
    );
    // Most comparisons are refusals (no actions); the accepted ones must be there too.
    expect(withActions, `seed ${RUNS.seed}`).toBeGreaterThan(1_000);
    console.log(`[coverage] ${compared} steps compared, ${withActions} with actions`);
  });

  it('leave nothing of one step in the next (the scope is shared)', () => {
    const [placed] = initialOrderStep(ORDER_INPUT);
    const pay: OrderEvent = {
      type: 'PAY',
      paymentId: 'payment-1',
      method: 'CARD',
      at: ORDER_INPUT.placedAt + 1,
    };
    const [, first] = orderStep(placed, pay);
    const [, second] = orderStep(placed, pay);
    expect(described(second)).toBe(described(first));
    expect(first.length).toBeGreaterThan(0);
  });
});
