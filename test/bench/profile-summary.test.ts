import { describe, expect, it } from 'vitest';
import { type CpuProfile, frameName, packageOf, summarize, timeline } from './profile-summary';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

/**
 * root ─ main (src) ─ handle (src) ─ write (native)
 *      │                          └ parse (node_modules/pg)
 *      └ (idle)
 * Samples at 100, 200, … 600 ms: handle, write, write, parse, idle, write.
 */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 6] },
    { id: 2, callFrame: frame('main', 'file:///repo/src/server.ts'), children: [3] },
    { id: 3, callFrame: frame('handle', 'file:///repo/src/http/lane.ts'), children: [4, 5] },
    { id: 4, callFrame: frame('write') },
    { id: 5, callFrame: frame('parse', 'file:///repo/node_modules/pg/lib/result.js', 80) },
    { id: 6, callFrame: frame('(idle)') },
  ],
  samples: [3, 4, 4, 5, 6, 4],
  timeDeltas: [100_000, 100_000, 100_000, 100_000, 100_000, 100_000],
};

describe('CPU profile summary', () => {
  it('names frames by function and short path, and packages by dependency or top folder', () => {
    expect(frameName(profile.nodes[4]!.callFrame)).toBe('parse@pg/lib/result.js:81');
    expect(frameName(profile.nodes[2]!.callFrame)).toBe('handle@src/http/lane.ts');
    expect(frameName(profile.nodes[3]!.callFrame)).toBe('write@(native)');
    expect(packageOf(profile.nodes[4]!.callFrame)).toBe('pg');
    expect(packageOf(profile.nodes[2]!.callFrame)).toBe('src/');
    expect(packageOf(frame('emit', 'node:events'))).toBe('node internals');
    expect(packageOf(frame('(garbage collector)'))).toBe('(garbage collector)');
  });

  it('counts busy samples by the function that ran, idle left out', () => {
    const { busy, rows } = summarize(profile, { by: 'self' });
    expect(busy).toBe(5);
    expect(rows.map((r) => [r.key, r.samples])).toEqual([
      ['write@(native)', 3],
      ['handle@src/http/lane.ts', 1],
      ['parse@pg/lib/result.js:81', 1],
    ]);
    expect(rows[0]!.share).toBeCloseTo(0.6);
  });

  it('counts by package, and only within a window of time', () => {
    expect(summarize(profile, { by: 'package' }).rows.map((r) => [r.key, r.samples])).toEqual([
      ['(native)', 3],
      ['pg', 1],
      ['src/', 1],
    ]);
    // Samples at 200, 300 and 400 ms: write, write, parse.
    const window = summarize(profile, { by: 'self', fromMs: 150, toMs: 450 });
    expect([window.busy, window.rows.map((r) => r.samples)]).toEqual([3, [2, 1]]);
  });

  it('finds the callers of a frame that was on the stack, not only of the one that ran', () => {
    const { rows } = summarize(profile, { by: 'callers', callers: /^handle@/, depth: 1 });
    expect(rows).toEqual([{ key: 'handle@src/http/lane.ts < main@src/server.ts', samples: 5, share: 1 }]);
    expect(summarize(profile, { by: 'callers', callers: /^nothing@/ }).rows).toEqual([]);
  });

  it('lays busy and idle samples out over time', () => {
    expect(timeline(profile, 250)).toEqual([
      { atMs: 0, busy: 2, idle: 0 },
      { atMs: 250, busy: 2, idle: 0 },
      { atMs: 500, busy: 1, idle: 1 },
    ]);
  });
});
