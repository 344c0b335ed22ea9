import type { AnyStateMachine } from 'xstate';

/**
 * A machine's shape read from the machine object itself (its state nodes), never written by hand:
 * what the docs, the diagram and the inspector show is what `transition()` runs.
 */
export interface MachineGraph {
  /** Dotted path of the state the machine starts in (`PENDING.awaitingPayment`). */
  initial: string;
  states: StateInfo[];
  transitions: TransitionInfo[];
  /** Events sent to the machine from outside, in order of first appearance. */
  events: string[];
  guards: string[];
  /** Named actions (effects and context updates) the machine declares in setup(). */
  actions: string[];
  delays: DelayInfo[];
}

export interface StateInfo {
  /** Dotted path without the machine id: `PENDING.awaitingPayment`. */
  path: string;
  key: string;
  parent: string | null;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Dotted path of the initial child of a compound state. */
  initial: string | null;
  entry: string[];
  exit: string[];
}

export interface TransitionInfo {
  source: string;
  /** The event name, or `after <delay>` for a delayed transition. */
  event: string;
  /** Set for delayed (`after`) transitions: the delay's name in setup({ delays }). */
  delay: string | null;
  guard: string | null;
  /** Target paths; empty for a transition that only runs actions and stays put. */
  targets: string[];
  actions: string[];
}

export interface DelayInfo {
  name: string;
  /** The state whose `after` block starts it. */
  state: string;
  targets: string[];
}

type Node = AnyStateMachine['root'];
interface RawTransition {
  eventType: string;
  guard?: unknown;
  target?: readonly Node[] | undefined;
  actions: readonly unknown[];
  delay?: unknown;
}

const AFTER_EVENT = /^xstate\.after\.([^.]+)\./;

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const states: StateInfo[] = [];
  const transitions: TransitionInfo[] = [];
  const visit = (node: Node, parent: string | null) => {
    const path = pathOf(node);
    if (node !== machine.root) {
      states.push({
        path,
        key: node.key,
        parent,
        type: node.type,
        initial: node.type === 'compound' ? (node.initial.target.map(pathOf)[0] ?? null) : null,
        entry: namedActions(node.entry),
        exit: namedActions(node.exit),
      });
    }
    for (const [eventType, list] of node.transitions) {
      for (const t of list as RawTransition[]) transitions.push(transitionInfo(path, eventType, t));
    }
    for (const child of Object.values(node.states)) visit(child as Node, node === machine.root ? null : path);
  };
  visit(machine.root, null);

  const implementations = machine.implementations;
  return {
    initial: leafOf(machine.root),
    states,
    transitions,
    events: unique(transitions.filter((t) => t.delay === null).map((t) => t.event)),
    guards: Object.keys(implementations.guards),
    actions: Object.keys(implementations.actions),
    delays: transitions
      .filter((t) => t.delay !== null)
      .map((t) => ({ name: t.delay!, state: t.source, targets: t.targets })),
  };
}

/** Every event the state at `path` (or one of its ancestors) has a transition for, guards aside. */
export function eventsHandledIn(graph: MachineGraph, path: string): string[] {
  const lineage = path.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'));
  return unique(
    graph.transitions.filter((t) => t.delay === null && lineage.includes(t.source)).map((t) => t.event),
  );
}

function transitionInfo(source: string, eventType: string, t: RawTransition): TransitionInfo {
  const delay = AFTER_EVENT.exec(eventType)?.[1] ?? null;
  return {
    source,
    event: delay ? `after ${delay}` : eventType,
    delay,
    guard: t.guard === undefined ? null : guardName(t.guard),
    targets: (t.target ?? []).map(pathOf),
    actions: namedActions(t.actions),
  };
}

/** `order.PENDING.paying` → `PENDING.paying`; the root is ''. */
function pathOf(node: Node): string {
  return node.path.join('.');
}

function leafOf(node: Node): string {
  let current = node;
  while (current.type === 'compound') current = current.initial.target[0] as Node;
  return pathOf(current);
}

/**
 * A guard as a readable expression: named guards by name, xstate's higher-order guards spelled out
 * (`and(completesFullRefund, wantsRestock)`, `stateIn(PAID.active)`).
 */
export function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard) return String(guard.type);
  if (typeof guard === 'function') {
    const g = guard as { check?: { name?: string }; guards?: unknown[]; stateValue?: unknown };
    const kind = g.check?.name?.replace(/^check/, '');
    if (kind === 'StateIn') return `stateIn(${stateValuePath(g.stateValue)})`;
    if (kind && g.guards) return `${kind.toLowerCase()}(${g.guards.map(guardName).join(', ')})`;
    return guard.name || 'inline';
  }
  return 'inline';
}

function stateValuePath(value: unknown): string {
  if (typeof value === 'string') return value.replace(/^#[^.]+\./, '');
  if (value && typeof value === 'object') {
    const [key, child] = Object.entries(value)[0] ?? [];
    return key === undefined ? '' : [key, stateValuePath(child)].filter(Boolean).join('.');
  }
  return '';
}

/** Named actions with their parameters (`emit(ORDER_PAID)`); xstate's own (raise, cancel) left out. */
function namedActions(actions: readonly unknown[]): string[] {
  const names: string[] = [];
  for (const action of actions) {
    const { type, params } = actionParts(action);
    if (!type || type.startsWith('xstate.')) continue;
    const args = params && typeof params === 'object' ? Object.values(params).map(String) : [];
    names.push(args.length > 0 ? `${type}(${args.join(', ')})` : type);
  }
  return names;
}

function actionParts(action: unknown): { type?: string; params?: unknown } {
  if (typeof action === 'string') return { type: action };
  if (action && typeof action === 'object' && 'type' in action) {
    return { type: String(action.type), params: (action as { params?: unknown }).params };
  }
  if (typeof action === 'function') return { type: (action as { type?: string }).type ?? action.name };
  return {};
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
