import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

/**
 * `command`: fails fast when Redis is down (the API answers 503 instead of hanging), and pipelines
 * the commands issued in one tick automatically (many concurrent requests share round trips).
 * `producer`: fails fast too, without auto-pipelining: for BullMQ producers, whose scripts and
 * MULTIs are left to BullMQ.
 * `blocking`: for BullMQ workers and subscribers, which must wait and reconnect forever.
 */
export type RedisRole = 'command' | 'producer' | 'blocking';

export function createRedis(url: string, role: RedisRole, name: string): Redis {
  const options: RedisOptions = {
    connectionName: name,
    protocol: 2,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...(role === 'blocking'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 }),
    ...(role === 'command' ? { enableAutoPipelining: true } : {}),
  };
  const redis = new Redis(url, options);
  // Without a listener ioredis prints every reconnect attempt as an unhandled error.
  redis.on('error', () => undefined);
  return redis;
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitUntilReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
