import type { EntityManager } from '@mikro-orm/postgresql';
import { allowedActions, restoreOrderSnapshot, stateOf, statusOf } from '../../machines/order-snapshot';
import { query, sql } from '../db/sql';
import { eventsHandledIn } from '../statecharts/machine-graph';
import { graphOf } from '../statecharts/machine-registry';

export interface TransitionRecord {
  fromStatus: string | null;
  toStatus: string;
  /** Full state values as dotted strings (`PENDING.paying`); `from` is null for the placement. */
  from: string | null;
  to: string;
  event: string;
  at: string;
}

export interface OrderInspection {
  orderId: string;
  /** The owner: callers check it (owner or ADMIN) before answering. */
  userId: string;
  status: string;
  /** The dotted form of `value`. */
  state: string;
  /** The snapshot's state value, as xstate holds it (`{ PENDING: 'paying' }`). */
  value: unknown;
  context: Record<string, unknown>;
  /** Commands the machine accepts now (`snapshot.can`), as API.md's allowedActions. */
  allowedEvents: string[];
  /** Every event the current state has a transition for, guards aside (notices and timeouts too). */
  handledEvents: string[];
  machineVersion: number;
  history: TransitionRecord[];
}

/**
 * The live machine of one order, read from its persisted snapshot, with its transition history.
 * Undefined for an unknown order. Authorization is the caller's (GET /orders/{id}/machine).
 */
export async function inspectOrder(
  em: EntityManager,
  orderId: string,
  now = Date.now(),
): Promise<OrderInspection | undefined> {
  const [row] = await query<{
    id: string;
    user_id: string;
    snapshot: Record<string, unknown>;
    machine_version: number;
  }>(em, sql`select id, user_id, snapshot, machine_version from orders where id = ${orderId}`);
  if (!row) return undefined;
  const snapshot = restoreOrderSnapshot({ snapshot: row.snapshot, machineVersion: row.machine_version });
  const state = stateOf(snapshot);
  return {
    orderId: row.id,
    userId: row.user_id,
    status: statusOf(snapshot),
    state,
    value: snapshot.value,
    context: { ...snapshot.context },
    allowedEvents: allowedActions(snapshot, now),
    handledEvents: eventsHandledIn(graphOf('order'), state),
    machineVersion: row.machine_version,
    history: await loadOrderHistory(em, orderId),
  };
}

/** One row per transition, oldest first (uuidv7 ids break ties within a millisecond). */
export async function loadOrderHistory(em: EntityManager, orderId: string): Promise<TransitionRecord[]> {
  const rows = await query<{
    from_status: string | null;
    to_status: string;
    from_state: string | null;
    to_state: string;
    event: string;
    at: Date | string;
  }>(
    em,
    sql`select from_status, to_status, from_state, to_state, event, at from order_transitions
        where order_id = ${orderId} order by at, id`,
  );
  return rows.map((r) => ({
    fromStatus: r.from_status,
    toStatus: r.to_status,
    from: r.from_state,
    to: r.to_state,
    event: r.event,
    at: new Date(r.at).toISOString(),
  }));
}

/** How many orders sit in each state now (dotted paths): the visualizer's live counts. */
export async function countOrdersByState(em: EntityManager): Promise<Record<string, number>> {
  const rows = await query<{ state: string; count: number }>(
    em,
    sql`select state, count(*)::int as count from orders group by state`,
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.count]));
}
