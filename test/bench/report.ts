import type { Phase, ResultRow } from './scenario';

export interface ScenarioOutcome {
  name: string;
  concurrency: number;
  rows: ResultRow[];
  phases: Phase[];
  checks?: Record<string, unknown>;
  error?: string;
}

/** `scenario | metric | value | raw ceiling | ratio | target`, then where the CPU went per phase. */
export function renderReport(outcomes: ScenarioOutcome[]): string {
  const results = [['scenario', 'metric', 'value', 'raw ceiling', 'ratio', 'target']];
  for (const o of outcomes) {
    if (o.error) results.push([o.name, 'FAILED', o.error.split('\n')[0]!, '', '', '']);
    if (o.error && o.phases.length > 0) continue;
    for (const row of o.rows) {
      results.push([
        o.name,
        row.metric,
        withUnit(row.value, row.unit),
        row.raw ? `${withUnit(row.raw.value, row.raw.unit)} (${row.raw.what})` : '',
        row.ratio === undefined ? '' : `${(row.ratio * 100).toFixed(1)} %`,
        row.target ? `${row.target.met ? '✓' : '✗'} ${row.target.text}` : '',
      ]);
    }
  }
  const cpu = [
    [
      'phase',
      'ops/s',
      'p95 ms',
      'loadgen',
      'server',
      'api',
      'postgres',
      'redis',
      'other',
      'machine',
      'cpu ms/op',
      'db tx/op',
      'redis cmd/op',
    ],
  ];
  for (const o of outcomes) {
    for (const p of o.phases) {
      const fixed = (n: number | null, digits = 1) => (n === null ? '' : n.toFixed(digits));
      cpu.push([
        p.label,
        format(Math.round(p.load.throughput)),
        p.load.latency.p95.toFixed(1),
        ...[
          p.cpu.loadgen,
          p.cpu.server,
          p.cpu.api,
          p.cpu.postgres,
          p.cpu.redis,
          p.cpu.other,
          p.cpu.machine,
        ].map((c) => c.toFixed(2)),
        // CPU time per operation of what the work needs (not "other"): steadier than ops/s on a busy box.
        fixed(p.perOperation.cpuMs, 2),
        fixed(p.perOperation.dbTx),
        fixed(p.perOperation.redisCommands),
      ]);
    }
  }
  const cores = outcomes.flatMap((o) => o.phases)[0]?.cpu.cores ?? 0;
  return [
    table(results),
    '',
    `Where the time went in each measured window: cores busy (of ${cores}; "api" is the part of "server" spent by`,
    'the API process alone, the rest its worker processes; "other" is the rest of the shared',
    'machine); CPU ms per operation of loadgen + server + postgres + redis (steadier than ops/s when "other"',
    'is busy); database transactions (autocommit statements included) and Redis commands per operation:',
    table(cpu),
  ].join('\n');
}

function withUnit(value: number | string, unit: string | undefined): string {
  const text = typeof value === 'number' ? format(value) : value;
  return unit ? `${text} ${unit}` : text;
}

const format = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => cell + ' '.repeat(widths[i]! - [...cell].length))
      .join(' | ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line)].join(
    '\n',
  );
}
