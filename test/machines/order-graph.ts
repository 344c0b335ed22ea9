import { type AnyStateNode, type AnyTransitionDefinition, initialTransition, transition } from 'xstate';
import {
  type OrderContext,
  type OrderEvent,
  type OrderInput,
  orderMachine,
} from '../../machines/order.machine';
import type { OrderSnapshot } from '../../machines/order-snapshot';
import { interpretActions } from '../../src/orders/machine-actions';
import { ALPHABET, type AnyOrderEvent } from './order-alphabet';
import { type ExpectedTimers, restOf } from './order-spec';

/** The machine's definition walked as a graph, and the situations an order can be in, found by BFS. */

export const ORDER_INPUT: OrderInput = {
  orderId: 'order-1',
  userId: 'user-1',
  total: 10_000,
  userCouponId: 'user-coupon-1',
  placedAt: Date.UTC(2026, 10, 21, 9, 0, 0),
  paymentTimeoutMs: 15 * 60_000,
  autoConfirmMs: 7 * 24 * 3_600_000,
};

/** `order.PAID.active` → `PAID.active`. */
const nameOf = (node: AnyStateNode) => node.path.join('.');

function leafNodes(node: AnyStateNode = orderMachine.root): AnyStateNode[] {
  const children = Object.values(node.states) as AnyStateNode[];
  return children.length === 0 ? [node] : children.flatMap((child) => leafNodes(child));
}

export const definedLeafStates = (): string[] => leafNodes().map(nameOf);

/** The leaf a transition into `node` ends in, following initial states down. */
function settleInto(node: AnyStateNode): AnyStateNode {
  const initial = node.initial?.target[0] as AnyStateNode | undefined;
  return Object.keys(node.states).length > 0 && initial ? settleInto(initial) : node;
}

export interface DeclaredEdge {
  from: string;
  eventType: string;
  /** The state node that declares it: the leaf or one of its ancestors. */
  source: string;
  to: string;
  guard: string;
  definition: AnyTransitionDefinition;
}

function describeGuard(guard: unknown): string {
  if (guard === undefined) return 'always';
  if (typeof guard === 'string') return guard;
  const g = guard as { name?: string; guards?: unknown[]; stateValue?: unknown; type?: string };
  if (g.guards) return `${g.name}(${g.guards.map(describeGuard).join(', ')})`;
  if (g.stateValue) return `stateIn(${JSON.stringify(g.stateValue)})`;
  return g.type ?? g.name ?? 'guard';
}

/** Every (leaf state, event) → target candidate the definition declares, from the leaf or an ancestor. */
export function declaredEdges(): DeclaredEdge[] {
  return leafNodes().flatMap((leaf) => {
    const edges: DeclaredEdge[] = [];
    for (let node: AnyStateNode | undefined = leaf; node; node = node.parent) {
      for (const [eventType, candidates] of node.transitions) {
        for (const definition of candidates) {
          const target = definition.target?.[0] as AnyStateNode | undefined;
          edges.push({
            from: nameOf(leaf),
            eventType,
            source: nameOf(node) || '(root)',
            to: target ? nameOf(settleInto(target)) : nameOf(leaf),
            guard: describeGuard(definition.guard),
            definition,
          });
        }
      }
    }
    return edges;
  });
}

/** The non-assign actions the definition names anywhere: the effects a worker must implement. */
export function declaredEffectNames(): string[] {
  const names = new Set<string>();
  const visit = (node: AnyStateNode) => {
    const actions = [
      ...node.entry,
      ...node.exit,
      ...[...node.transitions.values()].flat().flatMap((t) => t.actions),
    ] as unknown[];
    for (const action of actions) {
      const type = typeof action === 'string' ? action : (action as { type?: string }).type;
      if (type && !type.startsWith('xstate.') && !isContextUpdate(type)) names.add(type);
    }
    for (const child of Object.values(node.states)) visit(child as AnyStateNode);
  };
  visit(orderMachine.root);
  return [...names].sort();
}

/** An action whose implementation is an xstate `assign`: applied by transition() itself. */
function isContextUpdate(type: string): boolean {
  const impl = (orderMachine.implementations.actions as Record<string, unknown>)[type] as
    | { type?: string }
    | undefined;
  return impl?.type === 'xstate.assign';
}

/** The first transition candidate the machine would take for `event` (none: rejected). */
export function takenDefinition(snapshot: OrderSnapshot, event: AnyOrderEvent) {
  return orderMachine.getTransitionData(snapshot, event as OrderEvent)[0];
}

export const step = (snapshot: OrderSnapshot, event: AnyOrderEvent) =>
  transition(orderMachine, snapshot, event as OrderEvent);

/** Effects as the spec names them: `emit(ORDER_PAID)` for the order's outbox events. */
export function effectNames(actions: readonly { type: string; params?: unknown }[]): string[] {
  return interpretActions(actions)
    .effects.map((e) => (e.type === 'emit' ? `emit(${String(e.params?.event)})` : e.type))
    .sort();
}

export function timersOf(actions: readonly { type: string; params?: unknown }[]): ExpectedTimers {
  const timers = interpretActions(actions).timers;
  return {
    schedule: timers.flatMap((t) =>
      t.kind === 'schedule' ? [{ delay: t.delayName, event: t.event.type, delayMs: t.delayMs }] : [],
    ),
    cancel: timers.flatMap((t) => (t.kind === 'cancel' ? [t.delayName] : [])),
  };
}

/** The state an order is in, with what matters to its guards: payment, refunds, cancel reason. */
export interface Situation {
  state: string;
  label: string;
  snapshot: OrderSnapshot;
  /** The first event path that reaches it from placement (names of alphabet variants). */
  path: string[];
}

/** The dotted leaf state of a snapshot, read from its value. */
export function leafOf(snapshot: OrderSnapshot): string {
  const parts: string[] = [];
  let value: unknown = snapshot.value;
  while (typeof value === 'object' && value !== null) {
    const [key, inner] = Object.entries(value)[0]!;
    parts.push(key);
    value = inner;
  }
  return [...parts, value as string].join('.');
}

function labelOf(snapshot: OrderSnapshot): string {
  const c: OrderContext = snapshot.context;
  const facts: string[] = [];
  if (c.cancelReason) facts.push(c.cancelReason);
  if (leafOf(snapshot) === 'CANCELLED' && c.paymentId) facts.push(c.paidAt ? 'was paid' : 'payment failed');
  if (c.refundedAmount >= c.total) facts.push('fully refunded');
  else if (c.refundedAmount > 0) facts.push('partly refunded');
  if (c.pendingRefundAmount > 0)
    facts.push(restOf(c) === 0 ? 'refund of all the rest under way' : 'partial refund under way');
  return facts.length ? `${leafOf(snapshot)} (${facts.join(', ')})` : leafOf(snapshot);
}

let explored: Situation[] | undefined;

/** BFS from placement over the alphabet; a situation is recorded with the first path reaching it. */
export function exploreSituations(): Situation[] {
  if (explored) return explored;
  const [initial] = initialTransition(orderMachine, ORDER_INPUT);
  const found = new Map<string, Situation>([
    [labelOf(initial), { state: leafOf(initial), label: labelOf(initial), snapshot: initial, path: [] }],
  ]);
  const queue = [...found.values()];
  for (let current = queue.shift(); current; current = queue.shift()) {
    for (const variant of ALPHABET) {
      const c = current.snapshot.context;
      if (variant.applies && !variant.applies(c)) continue;
      const event = variant.make(c);
      if (!current.snapshot.can(event as OrderEvent)) continue;
      const [next] = step(current.snapshot, event);
      const label = labelOf(next);
      if (found.has(label)) continue;
      const situation = { state: leafOf(next), label, snapshot: next, path: [...current.path, variant.name] };
      found.set(label, situation);
      queue.push(situation);
    }
  }
  explored = [...found.values()];
  return explored;
}
