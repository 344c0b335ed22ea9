import type { SnapshotFrom } from 'xstate';
import {
  type CLIENT_ACTIONS,
  ORDER_MACHINE_VERSION,
  type OrderEvent,
  type OrderStatus,
  orderMachine,
} from './order.machine';

export type OrderSnapshot = SnapshotFrom<typeof orderMachine>;

/** The top-level state: the order's status. */
export function statusOf(snapshot: OrderSnapshot): OrderStatus {
  const value = snapshot.value;
  return (typeof value === 'string' ? value : Object.keys(value)[0]) as OrderStatus;
}

/** The full state as a dotted path: `PENDING.paying`, `CANCELLED`. */
export function stateOf(snapshot: OrderSnapshot): string {
  const parts: string[] = [];
  let value: unknown = snapshot.value;
  while (value && typeof value === 'object') {
    const [key, child] = Object.entries(value as Record<string, unknown>)[0]!;
    parts.push(key);
    value = child;
  }
  if (typeof value === 'string') parts.push(value);
  return parts.join('.');
}

/** What the machine would accept now, as API.md's `allowedActions` (REFUND: at least one won left). */
export function allowedActions(snapshot: OrderSnapshot, at: number): (keyof typeof CLIENT_ACTIONS)[] {
  const probes: Record<keyof typeof CLIENT_ACTIONS, OrderEvent> = {
    PAY: { type: 'PAY', paymentId: '', method: 'CARD', at },
    CANCEL: { type: 'CANCEL', at },
    CONFIRM: { type: 'CONFIRM', at },
    REFUND: { type: 'REFUND', refundId: '', amount: 1, restock: false, at },
  };
  return (Object.keys(probes) as (keyof typeof CLIENT_ACTIONS)[]).filter((action) =>
    snapshot.can(probes[action]),
  );
}

export type RejectionCode =
  | 'INVALID_ORDER_TRANSITION'
  | 'ORDER_ALREADY_CANCELLED'
  | 'ORDER_NOT_PAYABLE'
  | 'PAYMENT_IN_PROGRESS'
  | 'REFUND_EXCEEDS_PAYMENT';

/** Why the machine refused an event, as the API error code (API.md "Error codes"). */
export function rejectionFor(snapshot: OrderSnapshot, event: OrderEvent): RejectionCode {
  const status = statusOf(snapshot);
  switch (event.type) {
    case 'PAY':
      return snapshot.matches({ PENDING: 'paying' }) ? 'PAYMENT_IN_PROGRESS' : 'ORDER_NOT_PAYABLE';
    case 'CANCEL':
      return status === 'CANCELLED' ? 'ORDER_ALREADY_CANCELLED' : 'INVALID_ORDER_TRANSITION';
    case 'REFUND':
      return (status === 'PAID' && snapshot.matches({ PAID: 'active' })) ||
        status === 'CONFIRMED' ||
        paymentFullyReturned(snapshot)
        ? 'REFUND_EXCEEDS_PAYMENT'
        : 'INVALID_ORDER_TRANSITION';
    default:
      return 'INVALID_ORDER_TRANSITION';
  }
}

/** The order was paid and all of it is refunded or being refunded: nothing is left to return. */
function paymentFullyReturned({ context: c }: OrderSnapshot): boolean {
  return c.paidAt !== null && c.total - c.refundedAmount - c.pendingRefundAmount <= 0;
}

export interface PersistedOrderState {
  snapshot: Record<string, unknown>;
  machineVersion: number;
}

export function persistOrderSnapshot(snapshot: OrderSnapshot): PersistedOrderState {
  return {
    snapshot: orderMachine.getPersistedSnapshot(snapshot) as unknown as Record<string, unknown>,
    machineVersion: ORDER_MACHINE_VERSION,
  };
}

/** Revives a stored snapshot; older machine versions would be migrated here before resolving. */
export function restoreOrderSnapshot(state: PersistedOrderState): OrderSnapshot {
  if (state.machineVersion !== ORDER_MACHINE_VERSION) {
    throw new Error(`No migration from order machine v${state.machineVersion} to v${ORDER_MACHINE_VERSION}`);
  }
  return orderMachine.resolveState(state.snapshot as Parameters<typeof orderMachine.resolveState>[0]);
}
