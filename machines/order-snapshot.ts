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

/** Rewrites a stored snapshot of one machine version into the next one's shape. */
export type SnapshotMigration = (snapshot: Record<string, unknown>) => Record<string, unknown>;

/**
 * Snapshot migrations, keyed by the version they migrate from (v → v + 1). A machine change that
 * would misread an order stored before it (a state renamed or split, a context field added) bumps
 * ORDER_MACHINE_VERSION and adds its step here; orders in flight are migrated as they are loaded.
 */
export const ORDER_SNAPSHOT_MIGRATIONS: Readonly<Record<number, SnapshotMigration>> = {};

/** A stored snapshot brought up to `target`, one registered step at a time. */
export function migrateSnapshot(
  state: PersistedOrderState,
  migrations: Readonly<Record<number, SnapshotMigration>> = ORDER_SNAPSHOT_MIGRATIONS,
  target: number = ORDER_MACHINE_VERSION,
): Record<string, unknown> {
  if (state.machineVersion > target) {
    throw new Error(
      `No migration from order machine v${state.machineVersion} to v${target}: the snapshot is newer than this machine`,
    );
  }
  let snapshot = state.snapshot;
  for (let version = state.machineVersion; version < target; version++) {
    const step = migrations[version];
    if (!step) throw new Error(`No migration from order machine v${version} to v${version + 1}`);
    snapshot = step(snapshot);
  }
  return snapshot;
}

/** Revives a stored snapshot, migrated from whatever machine version stored it. */
export function restoreOrderSnapshot(state: PersistedOrderState): OrderSnapshot {
  const snapshot = migrateSnapshot(state);
  return orderMachine.resolveState(snapshot as Parameters<typeof orderMachine.resolveState>[0]);
}
