import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../src/logger';

const WORKER_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const RESTART_DELAY_MS = 1000;
const STOP_GRACE_MS = 30_000;
/** How often a forked worker process tells its parent its event loop turns (workers/main.ts). */
export const HEARTBEAT_MS = 1000;
export const HEARTBEAT = 'worker-heartbeat';

export interface WorkerProcesses {
  pids: () => number[];
  /** SIGTERM to each (they finish their jobs in flight), then waits for them to exit. */
  close: () => Promise<void>;
}

/**
 * `npm start`'s worker processes: `count` children running workers/main.ts (as `npm run worker`)
 * with this process's Node flags and environment plus `env`, so the API and the workers each get a
 * core. Child i serves its /metrics on `metricsPort + i` (0: none), so several never collide. A
 * child that dies is started again after a second, on the same port; a child whose parent is gone
 * drains and exits by itself (workers/main.ts listens for the IPC channel closing). A child whose
 * heartbeat stops for `hangTimeoutMs` (a blocked event loop, a stopped process — its connections
 * stay open, so its queues look consumed) is killed, and started again like one that died.
 */
export function forkWorkerProcesses(
  count: number,
  env: Record<string, string>,
  metricsPort: number,
  log: Logger,
  hangTimeoutMs = 30_000,
): WorkerProcesses {
  let stopping = false;
  const children = new Set<ChildProcess>();
  const lastHeard = new Map<ChildProcess, number>();
  const watchdog = setInterval(() => {
    const now = Date.now();
    for (const [child, heard] of lastHeard) {
      if (now - heard <= hangTimeoutMs || child.exitCode !== null || child.signalCode !== null) continue;
      lastHeard.delete(child);
      log.error(
        { workerPid: child.pid, silentMs: now - heard },
        'worker process hung (no heartbeat); killing it to start another',
      );
      child.kill('SIGKILL');
    }
  }, HEARTBEAT_MS);
  watchdog.unref();
  const start = (index: number) => {
    const port = metricsPort > 0 ? metricsPort + index : 0;
    const child = fork(WORKER_MAIN, [], {
      env: { ...process.env, ...env, WORKER_METRICS_PORT: String(port) },
      execArgv: process.execArgv,
      stdio: 'inherit',
    });
    children.add(child);
    // Watched from its first heartbeat on: loading its modules takes a while, and varies.
    child.on('message', (message) => {
      if (message === HEARTBEAT && children.has(child)) lastHeard.set(child, Date.now());
    });
    child.once('exit', (code, signal) => {
      children.delete(child);
      lastHeard.delete(child);
      if (stopping) return;
      log.error({ workerPid: child.pid, code, signal }, 'worker process died; starting another');
      setTimeout(() => {
        if (!stopping) start(index);
      }, RESTART_DELAY_MS).unref();
    });
  };
  for (let i = 0; i < count; i++) start(i);
  log.info({ processes: count }, 'worker processes started');
  return {
    pids: () => [...children].flatMap((child) => (child.pid ? [child.pid] : [])),
    close: async () => {
      stopping = true;
      clearInterval(watchdog);
      await Promise.all([...children].map(stopChild));
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
