import { ORDER_MACHINE_VERSION } from '../../machines/order.machine';
import type { AppContext } from '../context';
import { DomainError } from '../errors/domain-error';
import type { MachineGraph } from '../statecharts/machine-graph';
import { graphOf } from '../statecharts/machine-registry';
import { toMermaid } from '../statecharts/mermaid';
import { countOrdersByState, inspectOrder, type OrderInspection } from './order-inspection';

export interface OrderMachineView {
  version: number;
  graph: MachineGraph;
  /** The diagram, with the order's current state and the states it passed through highlighted. */
  mermaid: string;
  /** Orders in each state now (dotted paths); only in the operators' view. */
  counts?: Record<string, number>;
  order: OrderInspection | undefined;
  /** States the order passed through, in order of first visit. */
  path: string[];
}

/** The developers' diagram: the machine alone, no live data (public, like /docs). */
export function orderMachineDiagram(): OrderMachineView {
  const graph = graphOf('order');
  return {
    version: ORDER_MACHINE_VERSION,
    graph,
    mermaid: toMermaid(graph, { visited: [] }),
    order: undefined,
    path: [],
  };
}

/** What the operators' page shows: the machine, live counts, and optionally one order's journey. */
export async function orderMachineView(ctx: AppContext, orderId?: string): Promise<OrderMachineView> {
  const em = ctx.orm.em.fork();
  const order = orderId ? await inspectOrder(em, orderId) : undefined;
  if (orderId && !order) throw new DomainError('ORDER_NOT_FOUND');
  const counts = await countOrdersByState(em);
  const path = order ? [...new Set(order.history.flatMap((t) => (t.from ? [t.from, t.to] : [t.to])))] : [];
  const graph = graphOf('order');
  return {
    version: ORDER_MACHINE_VERSION,
    graph,
    mermaid: toMermaid(graph, { current: order?.state, visited: path }),
    counts,
    order,
    path,
  };
}
