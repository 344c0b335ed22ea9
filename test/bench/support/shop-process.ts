import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

export interface ChildServer {
  pid: number;
  port: number;
  baseUrl: string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period; resolves with the exit code. */
  stop: () => Promise<number | null>;
}

export interface ShopProcesses {
  baseUrl: string;
  /** The API process first, then the worker-only processes. */
  pids: number[];
  /** Stops the API process (no new commands), then the workers (they drain); the API's exit code. */
  stop: () => Promise<number | null>;
  /** Why a shop process is gone although nobody here stopped it (undefined while all run). */
  died: () => string | undefined;
}

/** A port nobody listens on right now (the shop cannot report a PORT=0 choice back to us). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolvePort(address.port));
    });
  });
}

/**
 * Extra node flags for the shop's processes from BENCH_SHOP_NODE_ARGS (space-separated), e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the shop under load (NODE_OPTIONS refuses --cpu-prof).
 */
function nodeArgsOfShop(): string[] {
  return (process.env.BENCH_SHOP_NODE_ARGS ?? '').split(' ').filter((arg) => arg.length > 0);
}

/**
 * Starts the shop (`src/server.ts`, as `npm start` does: the API process forks its worker process) as a child
 * process on its own port, plus `workerProcesses` worker-only processes (`workers/main.ts`, as
 * `npm run worker` does), all logging to `logFile`, and waits until `/health/ready` answers 200.
 * Node runs with tsx as an import hook rather than through the tsx CLI, so each child is the
 * process itself (one process to signal and to measure).
 */
export async function startShopProcess(options: {
  env: Record<string, string>;
  /** The tree whose shop runs (default: this one; an A/B run starts the base's from its worktree). */
  cwd?: string;
  logFile: string;
  workerProcesses?: number;
  readyTimeoutMs?: number;
}): Promise<ShopProcesses> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const children: ChildProcess[] = [];
  let stopping = false;
  let death: string | undefined;
  const start = (script: string) => {
    const log = openSync(options.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgsOfShop(), script], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env, PORT: String(port) },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    children.push(child);
    child.once('exit', (code, signal) => {
      if (!stopping) death ??= `${script} (pid ${child.pid}) exited with code ${code}, signal ${signal}`;
    });
    return child;
  };
  const stop = async () => {
    stopping = true;
    const [api, ...workers] = children;
    const code = api ? await stopChild(api) : null;
    await Promise.all(workers.map((w) => stopChild(w)));
    return code;
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  try {
    const api = start('src/server.ts');
    if (options.workerProcesses) {
      // The API process migrates before it listens: workers start on a migrated database.
      await waitFor(api, `${baseUrl}/health/live`, deadline);
      for (let i = 0; i < options.workerProcesses; i++) start('workers/main.ts');
    }
    await waitFor(api, `${baseUrl}/health/ready`, deadline);
  } catch (error) {
    for (const child of children) child.kill('SIGKILL');
    const tail = readFileSync(options.logFile, 'utf8').split('\n').slice(-30).join('\n');
    throw new Error(`${(error as Error).message}\n--- ${options.logFile} (tail) ---\n${tail}`);
  }
  return { baseUrl, pids: children.map((c) => c.pid!), stop, died: () => death };
}

async function waitFor(child: ChildProcess, url: string, deadline: number) {
  let exited: string | undefined =
    child.exitCode !== null || child.signalCode !== null
      ? `the shop exited during start-up (code ${child.exitCode}, signal ${child.signalCode})`
      : undefined;
  child.once('exit', (code, signal) => {
    exited = `the shop exited during start-up (code ${code}, signal ${signal})`;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(exited);
    const status = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the shop did not answer ${url} in time`);
}

export function stopChild(child: ChildProcess, graceMs = 30_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolveExit) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveExit(code);
    });
    child.kill('SIGTERM');
  });
}

/** Starts a raw-ceiling server script (tsx hook, like the shop) that prints `listening <port>`. */
export async function startRawServer(script: string, env: Record<string, string>): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /listening (\d+)/.exec(seen);
      if (match) resolvePort(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
  });
  return { pid: child.pid!, port, baseUrl: `http://127.0.0.1:${port}`, stop: () => stopChild(child, 5000) };
}
