import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, databaseUrl, dropTestDatabase } from '../support/databases';
import { freeListeningPort, isPortFree } from '../support/ports';
import { TEST_REDIS_URL } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// README's first command: `npm start` is one command, and runs the API and the workers in separate
// processes (WORKER_PROCESSES=1 by default), so each gets a core.
const ROOT = join(import.meta.dirname, '../..');
let databaseName: string;
const started: ChildProcess[] = [];
/** The shops' own processes: npm's shell does not pass a signal on, so a failed test stops them here. */
const shopPids: number[] = [];
const prefix = `t${process.pid}start${Math.random().toString(36).slice(2, 6)}`;

beforeAll(async () => {
  databaseName = await createTestDatabase(inject('templateDatabase'));
});
afterAll(async () => {
  for (const pid of shopPids) if (alive(pid)) process.kill(pid, 'SIGTERM');
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  if (databaseName) await dropTestDatabase(databaseName);
  const redis = new Redis(TEST_REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.unlink(...keys);
  redis.disconnect();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function npmStart(env: Record<string, string> = {}) {
  const port = await freeListeningPort();
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: String(port),
      DATABASE_URL: databaseUrl(databaseName),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      SEED_DEMO: 'false',
      PASSWORD_HASH_MEMORY_KIB: '1024',
      LOG_LEVEL: 'info',
      WORKER_METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const logLines = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const ready = await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
    const res = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
    return res?.status === 200 ? res : undefined;
  }, 60_000);
  const listening = logLines().find((line) => line.msg === 'shop is listening')!;
  shopPids.push(listening.pid as number, ...(listening.workerProcesses as number[]));
  return { child, exited, ready, listening, logLines, output: () => output };
}

describe('npm start', () => {
  it('is ready with the workers in a process of their own, and stops both on SIGTERM, exiting 0', async () => {
    const shop = await npmStart();
    expect(shop.ready?.status).toBe(200);
    expect(shop.listening.workers).toEqual([]);
    const [workerPid] = shop.listening.workerProcesses as number[];
    expect(workerPid).toBeGreaterThan(0);
    expect(workerPid).not.toBe(shop.listening.pid);
    const workerLog = await eventually(async () =>
      shop.logLines().find((line) => line.msg === 'workers running'),
    );
    expect(workerLog?.pid).toBe(workerPid);
    expect(workerLog?.workers).toContain('order');

    // As a process manager stops it (npm's own shell does not pass signals on): SIGTERM to the shop.
    process.kill(shop.listening.pid as number, 'SIGTERM');
    expect(await shop.exited).toBe(0);
    expect(alive(workerPid!)).toBe(false);
  }, 90_000);

  it('leaves no worker process behind when its API process is killed', async () => {
    const shop = await npmStart();
    const [workerPid] = shop.listening.workerProcesses as number[];
    process.kill(shop.listening.pid as number, 'SIGKILL');
    await eventually(async () => !alive(workerPid!), 30_000);
    shop.child.kill('SIGKILL');
  }, 90_000);

  it('gives each of several worker processes a metrics port of its own', async () => {
    let metricsPort = await freeListeningPort();
    while (!(await isPortFree(metricsPort + 1))) metricsPort = await freeListeningPort();
    const shop = await npmStart({ WORKER_PROCESSES: '2', WORKER_METRICS_PORT: String(metricsPort) });
    expect(shop.listening.workerProcesses as number[]).toHaveLength(2);
    for (const port of [metricsPort, metricsPort + 1]) {
      const metrics = await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
        return res?.status === 200 ? res.text() : undefined;
      }, 30_000);
      expect(metrics).toContain('# TYPE');
    }
    expect(shop.logLines().some((line) => line.msg === 'worker process died; starting another')).toBe(false);
    process.kill(shop.listening.pid as number, 'SIGTERM');
    expect(await shop.exited).toBe(0);
  }, 90_000);
});

describe('a hung worker process', () => {
  it('is killed when its heartbeat stops, and another is started', async () => {
    const shop = await npmStart({ WORKER_HANG_TIMEOUT_MS: '5000' });
    const [workerPid] = shop.listening.workerProcesses as number[];
    // Its event loop turns (heartbeats), so it is left alone while it runs.
    await eventually(async () => shop.logLines().some((line) => line.msg === 'workers running'), 30_000);
    // A stopped process keeps its connections: BullMQ and the readiness check still count it.
    process.kill(workerPid!, 'SIGSTOP');
    const hung = await eventually(
      async () => shop.logLines().find((line) => line.msg?.toString().startsWith('worker process hung')),
      30_000,
    );
    expect(hung?.workerPid).toBe(workerPid);
    await eventually(async () => !alive(workerPid!), 30_000);
    const restarted = await eventually(
      async () => shop.logLines().find((line) => line.msg === 'workers running' && line.pid !== workerPid),
      60_000,
    );
    shopPids.push(restarted!.pid as number);
    process.kill(shop.listening.pid as number, 'SIGTERM');
    expect(await shop.exited).toBe(0);
    expect(alive(restarted!.pid as number)).toBe(false);
  }, 120_000);
});
