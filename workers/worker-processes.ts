import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../src/logger';

const WORKER_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const RESTART_DELAY_MS = 1000;
const STOP_GRACE_MS = 30_000;

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
 * drains and exits by itself (workers/main.ts listens for the IPC channel closing).
 */
export function forkWorkerProcesses(
  count: number,
  env: Record<string, string>,
  metricsPort: number,
  log: Logger,
): WorkerProcesses {
  let stopping = false;
  const children = new Set<ChildProcess>();
  const start = (index: number) => {
    const port = metricsPort > 0 ? metricsPort + index : 0;
    const child = fork(WORKER_MAIN, [], {
      env: { ...process.env, ...env, WORKER_METRICS_PORT: String(port) },
      execArgv: process.execArgv,
      stdio: 'inherit',
    });
    children.add(child);
    child.once('exit', (code, signal) => {
      children.delete(child);
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
