import type { MachineGraph, StateInfo, TransitionInfo } from './machine-graph';

export interface MermaidHighlight {
  /** The state an order is in now (dotted path). */
  current?: string | undefined;
  /** States it passed through on the way (dotted paths). */
  visited?: string[] | undefined;
}

/** CSS classes the visualizer gives highlighted states (also asserted by the browser test). */
export const HIGHLIGHT_CLASSES = { current: 'current', visited: 'visited' } as const;

/**
 * A mermaid `stateDiagram-v2` of the graph: compound states as nested boxes, one arrow per
 * source/target pair labelled with its events (`EVENT [guard]`, `after delay`); events handled
 * without leaving a state are named inside its box.
 */
export function toMermaid(graph: MachineGraph, highlight: MermaidHighlight = {}): string {
  const lines = ['stateDiagram-v2'];
  const childrenOf = (parent: string | null) => graph.states.filter((s) => s.parent === parent);
  const initialTop = graph.states.find((s) => s.parent === null && graph.initial.startsWith(s.path));

  const writeState = (state: StateInfo, indent: string) => {
    const id = mermaidId(state.path);
    const children = childrenOf(state.path);
    if (children.length === 0) {
      lines.push(`${indent}state "${state.key}" as ${id}`);
      return;
    }
    lines.push(`${indent}state "${state.key}" as ${id} {`);
    if (state.initial) lines.push(`${indent}  [*] --> ${mermaidId(state.initial)}`);
    for (const child of children) writeState(child, `${indent}  `);
    lines.push(`${indent}}`);
  };
  if (initialTop) lines.push(`  [*] --> ${mermaidId(initialTop.path)}`);
  for (const state of childrenOf(null)) writeState(state, '  ');

  for (const [key, group] of groupBy(
    graph.transitions.filter((t) => t.targets.length > 0),
    (t) => `${t.source}>${t.targets[0]}`,
  )) {
    const [source, target] = key.split('>') as [string, string];
    lines.push(`  ${mermaidId(source)} --> ${mermaidId(target)}: ${group.map(label).join('<br/>')}`);
  }
  // Events handled without leaving a state are named inside its box (the page's table has them all).
  for (const [source, group] of groupBy(
    graph.transitions.filter((t) => t.targets.length === 0),
    (t) => t.source,
  )) {
    if (childrenOf(source).length > 0) continue; // mermaid draws no text inside a compound state
    lines.push(`  ${mermaidId(source)} : stays on ${[...new Set(group.map((t) => t.event))].join(', ')}`);
  }

  lines.push(
    `  classDef ${HIGHLIGHT_CLASSES.visited} fill:#dbeafe,stroke:#2563eb,stroke-width:2px`,
    `  classDef ${HIGHLIGHT_CLASSES.current} fill:#fde68a,stroke:#b45309,stroke-width:4px,font-weight:bold`,
  );
  const known = new Set(graph.states.map((s) => s.path));
  const visited = (highlight.visited ?? []).filter((p) => known.has(p) && p !== highlight.current);
  for (const path of new Set(visited)) lines.push(`  class ${mermaidId(path)} ${HIGHLIGHT_CLASSES.visited}`);
  if (highlight.current && known.has(highlight.current)) {
    lines.push(`  class ${mermaidId(highlight.current)} ${HIGHLIGHT_CLASSES.current}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Mermaid ids cannot hold dots: `PENDING.paying` → `PENDING__paying`. */
export function mermaidId(path: string): string {
  return path.replaceAll('.', '__');
}

function label(t: TransitionInfo): string {
  return t.guard ? `${t.event} [${t.guard}]` : t.event;
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
  return groups;
}
