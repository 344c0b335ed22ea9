import type { EntityManager } from '@mikro-orm/postgresql';
import { allowedActions, restoreOrderSnapshot, stateOf, statusOf } from '../../machines/order-snapshot';
import { db } from '../db/database';
import { asIso, sql } from '../db/sql';
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
  const row = await db(em)
    .selectFrom('orders')
    .select(['id', 'user_id', 'snapshot', 'machine_version'])
    .where('id', '=', orderId)
    .executeTakeFirst();
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
  const rows = await db(em)
    .selectFrom('order_transitions')
    .select(['from_status', 'to_status', 'from_state', 'to_state', 'event', 'at'])
    .where('order_id', '=', orderId)
    .orderBy('at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    fromStatus: r.from_status,
    toStatus: r.to_status,
    from: r.from_state,
    to: r.to_state,
    event: r.event,
    at: asIso(r.at),
  }));
}

/** How many orders sit in each state now (dotted paths): the visualizer's live counts. */
export async function countOrdersByState(em: EntityManager): Promise<Record<string, number>> {
  const rows = await db(em)
    .selectFrom('orders')
    .select(['state', sql<number>`count(*)::int`.as('count')])
    .groupBy('state')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.state, r.count]));
}
