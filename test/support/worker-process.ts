import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../../src/config';

const ROOT = join(import.meta.dirname, '../..');

// A test that fails between spawning a worker and killing it must not leave the worker running:
// whatever is still alive when the test file's process exits is killed with it.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

export interface WorkerProcess {
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  kill: (signal?: NodeJS.Signals) => Promise<number | null>;
  output: () => string;
}

/**
 * `npm run worker` as a real separate process sharing the test file's database and Redis prefix:
 * for tests where several processes consume the same mailboxes, or one is killed mid-job.
 */
export async function spawnWorkerProcess(
  config: Config,
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<WorkerProcess> {
  // One process (node with the tsx loader), so a SIGKILL really kills the worker and nothing survives.
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: config.databaseUrl!,
      DATABASE_POOL_SIZE: '10',
      REDIS_URL: config.redisUrl,
      REDIS_PREFIX: config.redisPrefix,
      ...(config.redisClusterNodes
        ? { REDIS_CLUSTER_NODES: config.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(',') }
        : {}),
      ORDER_SHARDS: String(config.orderShards),
      LOG_LEVEL: 'info',
      SEED_DEMO: 'false',
      PASSWORD_HASH_MEMORY_KIB: '1024',
      WORKERS: 'all',
      WORKER_METRICS_PORT: '0',
      WORKER_LOCK_MS: String(config.workerLockMs),
      WORKER_STALLED_INTERVAL_MS: String(config.workerStalledIntervalMs),
      OUTBOX_ACK_DEADLINE_MS: String(config.outboxAckDeadlineMs),
      ORDER_PAYMENT_TIMEOUT_MS: String(config.orderPaymentTimeoutMs),
      ORDER_SWEEP_INTERVAL_MS: String(config.orderSweepIntervalMs),
      OUTBOX_POLL_INTERVAL_MS: String(config.outboxPollIntervalMs),
      PAYMENT_GATEWAY_LATENCY_MS: String(config.gatewayLatencyMs),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = Date.now();
  while (!output.includes('workers running')) {
    if (child.exitCode !== null) throw new Error(`worker process exited early:\n${output}`);
    if (Date.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`worker process did not start in ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    process: child,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
    output: () => output,
  };
}

/** Polls until `check` returns a truthy value or the deadline passes. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
