/**
 * What a V8 CPU profile (`.cpuprofile`, as `node --cpu-prof` writes it) spent its busy samples on: by
 * function, by package, or by the callers of a frame, in a window of time. `npm run bench:profile`
 * (profile.ts) prints it. A row's share is the share of busy samples (idle excluded) in which the
 * function ran itself, or — with callers — in which the frame was on the stack.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The parts of a `.cpuprofile` (Chrome DevTools format) this reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SummaryOptions {
  by: 'self' | 'package' | 'callers';
  callers?: RegExp;
  depth?: number;
  fromMs?: number;
  toMs?: number;
}

export interface SummaryRow {
  key: string;
  samples: number;
  share: number;
}

const NOT_BUSY = new Set(['(idle)', '(root)']);

/** `name@file:line`, the path cut to what follows node_modules/ or the repository's root. */
export function frameName(frame: CallFrame): string {
  const file = frame.url
    .replace(/^.*\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/(src|workers|machines|test)\//, '$1/');
  // Files run through tsx report line 0 for everything: no line then.
  const line = file && frame.lineNumber > 0 ? `:${frame.lineNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'}@${file || '(native)'}${line}`;
}

/** The npm package of a frame, or the repository's top folder, a node internal, or native. */
export function packageOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const dependency = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (dependency) return dependency[1]!;
  const own = url.match(/\/(src|workers|machines|test)\//);
  if (own) return `${own[1]}/`;
  return url.startsWith('node:') ? 'node internals' : url;
}

/** Sample i's time in ms since the profile began. */
function sampleTimes(profile: CpuProfile): number[] {
  const times: number[] = [];
  let atUs = 0;
  for (const delta of profile.timeDeltas) {
    atUs += delta;
    times.push(atUs / 1000);
  }
  return times;
}

/** Busy samples by function, package, or matching frame with its callers. */
export function summarize(
  profile: CpuProfile,
  options: SummaryOptions,
): { busy: number; rows: SummaryRow[] } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const times = sampleTimes(profile);
  const counts = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const at = times[i]!;
    if (
      (options.fromMs !== undefined && at < options.fromMs) ||
      (options.toMs !== undefined && at > options.toMs)
    )
      return;
    const node = nodes.get(id);
    if (!node || NOT_BUSY.has(node.callFrame.functionName)) return;
    busy++;
    const key = keyOf(node, nodes, parents, options);
    if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  const rows = [...counts]
    .map(([key, samples]) => ({ key, samples, share: busy > 0 ? samples / busy : 0 }))
    .sort((a, b) => b.samples - a.samples || a.key.localeCompare(b.key));
  return { busy, rows };
}

function keyOf(
  node: ProfileNode,
  nodes: Map<number, ProfileNode>,
  parents: Map<number, number>,
  options: SummaryOptions,
): string | undefined {
  if (options.by === 'self') return frameName(node.callFrame);
  if (options.by === 'package') return packageOf(node.callFrame);
  // The outermost matching frame: recursion counts a sample once.
  let match: number | undefined;
  for (let id: number | undefined = node.id; id !== undefined; id = parents.get(id)) {
    if (options.callers?.test(frameName(nodes.get(id)!.callFrame))) match = id;
  }
  if (match === undefined) return undefined;
  const chain: string[] = [];
  for (
    let id: number | undefined = match;
    id !== undefined && chain.length <= (options.depth ?? 4);
    id = parents.get(id)
  ) {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(root)') break;
    chain.push(frameName(frame));
  }
  return chain.join(' < ');
}

/** Busy and idle samples per bucket of `bucketMs`, from the profile's start. */
export function timeline(
  profile: CpuProfile,
  bucketMs = 250,
): { atMs: number; busy: number; idle: number }[] {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const buckets = new Map<number, { busy: number; idle: number }>();
  const times = sampleTimes(profile);
  profile.samples.forEach((id, i) => {
    const at = Math.floor(times[i]! / bucketMs) * bucketMs;
    const bucket = buckets.get(at) ?? { busy: 0, idle: 0 };
    if (idle.has(id)) bucket.idle++;
    else bucket.busy++;
    buckets.set(at, bucket);
  });
  return [...buckets].sort(([a], [b]) => a - b).map(([atMs, counts]) => ({ atMs, ...counts }));
}
