import type { AnyStateMachine } from 'xstate';
import { ORDER_MACHINE_VERSION, orderMachine } from '../../machines/order.machine';
import { DomainError } from '../errors/domain-error';
import { type MachineGraph, machineGraph } from './machine-graph';
import { toMermaid } from './mermaid';

/** The machines the project runs, by the name used in URLs (`/api/v1/machines/order`). */
const MACHINES: Record<string, { machine: AnyStateMachine; version: number }> = {
  order: { machine: orderMachine, version: ORDER_MACHINE_VERSION },
};

export interface MachineSummary {
  name: string;
  version: number;
  states: string[];
  events: string[];
}

export interface MachineDescription extends MachineSummary, Omit<MachineGraph, 'states' | 'events'> {
  /** Every state node with its parent, type, initial child and entry/exit actions. */
  stateNodes: MachineGraph['states'];
  /** xstate's own serialisation of the machine (`machine.toJSON()`). */
  definition: Record<string, unknown>;
  /** A mermaid stateDiagram-v2 drawn from the same graph. */
  mermaid: string;
}

// Machines are immutable once built: their graphs are computed once.
const graphs = new Map<string, MachineGraph>();

export function graphOf(name: string): MachineGraph {
  const entry = MACHINES[name];
  if (!entry)
    throw new DomainError('NOT_FOUND', {
      en: `No machine named '${name}'`,
      ko: `이름이 '${name}'인 상태 머신이 없습니다`,
    });
  let graph = graphs.get(name);
  if (!graph) {
    graph = machineGraph(entry.machine);
    graphs.set(name, graph);
  }
  return graph;
}

export function listMachines(): MachineSummary[] {
  return Object.keys(MACHINES).map((name) => summary(name));
}

export function describeMachine(name: string): MachineDescription {
  const { states, events, ...rest } = graphOf(name);
  return {
    ...summary(name),
    ...rest,
    stateNodes: states,
    definition: JSON.parse(JSON.stringify(MACHINES[name]!.machine.toJSON())),
    mermaid: toMermaid(graphOf(name)),
  };
}

function summary(name: string): MachineSummary {
  const graph = graphOf(name);
  return {
    name,
    version: MACHINES[name]!.version,
    states: graph.states.map((s) => s.path),
    events: graph.events,
  };
}
