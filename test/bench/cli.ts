import { parseArgs } from 'node:util';
import { SCENARIOS } from './registry';

export interface BenchOptions {
  scenarios: string[];
  durationS: number;
  warmupS: number;
  /** Overrides every selected scenario's default concurrency. */
  concurrency: number | undefined;
  /** Extra environment for the shop (KEY=VALUE), e.g. to try WORKER_CONCURRENCY=64. */
  serverEnv: Record<string, string>;
  /** `npm run worker` processes started beside the API process (same environment). */
  workerProcesses: number;
  /** Also run the scenarios on a local 3-master Redis Cluster and report commands per node. */
  redisCluster: boolean;
}

export const USAGE = `npm run bench -- [options]

  --scenario <name>     run only this scenario (repeatable; default: all, in this order)
  --duration <s>        measured seconds per phase (default 10)
  --warmup <s>          unmeasured seconds before each phase (default 2)
  --concurrency <n>     virtual users for every selected scenario (default: each scenario's own)
  --server-env K=V      extra environment for the shop processes (repeatable)
  --worker-processes <n> also start n worker-only processes (workers/main.ts); with
                        --server-env WORKERS=none the API process runs no workers itself (default 0)
  --redis-cluster       run the scenarios (default: placement, checkout) on the single Redis, then on
                        a local 3-master Redis Cluster with ORDER_SHARDS=6, and report commands per node
  --help

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(16)} ${s.summary} (default concurrency ${s.defaultConcurrency})`).join('\n')}
`;

export function parseCli(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', multiple: true, default: [] },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      concurrency: { type: 'string' },
      'server-env': { type: 'string', multiple: true, default: [] },
      'worker-processes': { type: 'string', default: '0' },
      'redis-cluster': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const serverEnv: Record<string, string> = {};
  for (const pair of values['server-env']) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`--server-env expects KEY=VALUE, got '${pair}'`);
    serverEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    scenarios: values.scenario,
    durationS: positive('--duration', values.duration),
    warmupS: positive('--warmup', values.warmup, true),
    concurrency:
      values.concurrency === undefined ? undefined : wholePositive('--concurrency', values.concurrency),
    serverEnv,
    redisCluster: values['redis-cluster'],
    workerProcesses:
      values['worker-processes'] === '0'
        ? 0
        : wholePositive('--worker-processes', values['worker-processes']),
  };
}

function positive(flag: string, raw: string, zeroAllowed = false): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!zeroAllowed && n === 0)) {
    throw new Error(`${flag} expects a ${zeroAllowed ? 'non-negative' : 'positive'} number, got '${raw}'`);
  }
  return n;
}

function wholePositive(flag: string, raw: string): number {
  const n = positive(flag, raw);
  if (!Number.isInteger(n)) throw new Error(`${flag} expects a whole number, got '${raw}'`);
  return n;
}
