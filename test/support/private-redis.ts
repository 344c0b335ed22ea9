import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freeListeningPort } from './ports';

export interface PrivateRedis {
  url: string;
  port: number;
  flushAll: () => Promise<void>;
  /** Stops the server (data is lost: no persistence) and starts it again on the same port. */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
  start: () => Promise<void>;
  /** `SHUTDOWN NOSAVE`, as an operator would: the server exits and everything in it is gone. */
  shutdownNosave: () => Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  return nodeCommand(port, ['PING']).then(
    (answer) => answer === 'PONG',
    () => false,
  );
}

/** One command on one redis-server, over a plain (non-cluster) connection that never retries. */
export async function nodeCommand(port: number, command: string[]): Promise<unknown> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command[0]!, ...command.slice(1));
  } finally {
    client.disconnect();
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freeListeningPort();
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 100 && !(await ping(port)); i++) await new Promise((r) => setTimeout(r, 50));
  };
  const stop = async () => {
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    flushAll: async () => {
      const client = new Redis({ port, host: '127.0.0.1' });
      await client.flushall();
      client.disconnect();
    },
    restart: async () => {
      await stop();
      await start();
    },
    stop,
    start,
    shutdownNosave: async () => {
      if (!server || server.exitCode !== null) return;
      const exited = new Promise((r) => server!.once('exit', r));
      const client = new Redis({
        port,
        host: '127.0.0.1',
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      client.on('error', () => undefined);
      await client.call('shutdown', 'nosave').catch(() => undefined);
      client.disconnect();
      await exited;
    },
  };
}
