import { createActor, type ExecutableActionsFrom } from 'xstate';
import { type OrderEvent, type OrderInput, orderMachine } from './order.machine';
import type { OrderSnapshot } from './order-snapshot';

type OrderActions = ExecutableActionsFrom<typeof orderMachine>[];
type OrderActorScope = Parameters<typeof orderMachine.transition>[2];

/**
 * The order machine's pure steps: what xstate's `initialTransition(orderMachine, input)` and
 * `transition(orderMachine, snapshot, event)` return — the next snapshot and the actions to carry
 * out, nothing run — at a fraction of their cost. Those helpers build a throwaway actor and actor
 * system on every call, and that actor's constructor computes an initial snapshot *without input*,
 * so the order's context factory throws a TypeError whose stack is built and dropped: ≈ 100 µs per
 * step on the project's machine, against ≈ 15–25 µs through the one inert scope below. Sharing it is
 * safe because the order machine spawns and invokes nothing (nothing registers in the scope's
 * system) and a step is synchronous (each sets its own action collector before it runs).
 * test/machines/order-steps.test.ts holds the two ways equal over random histories.
 */
const scope: OrderActorScope = inertScope();

export function initialOrderStep(input: OrderInput): [OrderSnapshot, OrderActions] {
  const actions = collectActionsInto(scope);
  return [orderMachine.getInitialSnapshot(scope, input), actions];
}

export function orderStep(snapshot: OrderSnapshot, event: OrderEvent): [OrderSnapshot, OrderActions] {
  const actions = collectActionsInto(scope);
  return [orderMachine.transition(snapshot, event, scope), actions];
}

function collectActionsInto(target: OrderActorScope): OrderActions {
  const actions: OrderActions = [];
  target.actionExecutor = (action) => {
    actions.push(action as OrderActions[number]);
  };
  return actions;
}

/** Like xstate's own inert scope: an unstarted actor as `self`, and nothing carried out. */
function inertScope(): OrderActorScope {
  const self = createActor(orderMachine, {
    input: {
      orderId: '',
      userId: '',
      total: 0,
      userCouponId: null,
      placedAt: 0,
      paymentTimeoutMs: 0,
      autoConfirmMs: 0,
    },
  });
  return {
    self,
    id: '',
    sessionId: '',
    system: self.system,
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: () => {},
  } as OrderActorScope;
}
