import { ORDER_TAGS, type OrderTag, orderMachine } from '../../machines/order.machine';
import { sql } from '../db/sql';

interface TaggedStates {
  /** Top-level states (orders.status) with at least one leaf carrying the tag. */
  statuses: string[];
  /** Leaf states (orders.state) carrying the tag, their ancestors' tags included. */
  states: string[];
  /** True when every leaf of those statuses carries it: then the status alone decides. */
  wholeStatuses: boolean;
}

type OrderStateNode = typeof orderMachine.root;

function leaves(node: OrderStateNode, inherited: string[]): { path: string; tags: string[] }[] {
  const tags = [...inherited, ...node.tags];
  const children = Object.values(node.states);
  if (children.length === 0) return [{ path: node.path.join('.'), tags }];
  return children.flatMap((child) => leaves(child, tags));
}

/** Read once from the machine's definition: which stored states carry which tag. */
const TAGGED: Record<OrderTag, TaggedStates> = (() => {
  const all = Object.values(orderMachine.root.states).flatMap((s) => leaves(s, []));
  const statusOf = (path: string) => path.split('.')[0]!;
  return Object.fromEntries(
    ORDER_TAGS.map((tag) => {
      const states = all.filter((l) => l.tags.includes(tag)).map((l) => l.path);
      const statuses = [...new Set(states.map(statusOf))];
      const wholeStatuses = all
        .filter((l) => statuses.includes(statusOf(l.path)))
        .every((l) => states.includes(l.path));
      return [tag, { statuses, states, wholeStatuses }];
    }),
  ) as Record<OrderTag, TaggedStates>;
})();

export const statesTagged = (tag: OrderTag): readonly string[] => TAGGED[tag].states;

const list = (values: string[]) => sql.join(values.map((v) => sql.lit(v)));

/**
 * SQL that is true for an order (table alias `alias`) in a state carrying `tag`: the one place where
 * SQL meets the machine's state names. Literals, not parameters, so the planner sees them (partial
 * indexes on status).
 */
export function orderTagged(tag: OrderTag, alias = 'o') {
  const { statuses, states, wholeStatuses } = TAGGED[tag];
  const status = sql`${sql.ref(`${alias}.status`)} in (${list(statuses)})`;
  return wholeStatuses ? status : sql`${status} and ${sql.ref(`${alias}.state`)} in (${list(states)})`;
}
