import { Cluster, type ClusterOptions, type RedisOptions, Redis as SingleRedis } from 'ioredis';

/** One Redis server or a Redis Cluster: the shop's code is the same over either. */
export type Redis = SingleRedis | Cluster;

/**
 * `command`: fails fast when Redis is down (the API answers 503 instead of hanging), and pipelines
 * the commands issued in one tick automatically (many concurrent requests share round trips).
 * `producer`: fails fast too, without auto-pipelining: for BullMQ producers, whose scripts and
 * MULTIs are left to BullMQ.
 * `blocking`: for BullMQ workers, which must wait and reconnect forever.
 * `subscriber`: blocking, and on a cluster able to SSUBSCRIBE (one connection per master).
 */
export type RedisRole = 'command' | 'producer' | 'blocking' | 'subscriber';

/** Where Redis is: REDIS_URL, or the seed nodes of a cluster (REDIS_CLUSTER_NODES). */
export interface RedisTarget {
  redisUrl: string;
  redisClusterNodes?: { host: string; port: number }[] | undefined;
}

export function isCluster(redis: Redis): redis is Cluster {
  return redis instanceof Cluster;
}

export function createRedis(target: string | RedisTarget, role: RedisRole, name: string): Redis {
  const { redisUrl, redisClusterNodes } = typeof target === 'string' ? { redisUrl: target } : target;
  const options: RedisOptions = {
    connectionName: name,
    protocol: 2,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...(role === 'blocking' || role === 'subscriber'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 }),
    ...(role === 'command' ? { enableAutoPipelining: true } : {}),
  };
  const redis = redisClusterNodes
    ? new Cluster(
        redisClusterNodes,
        clusterOptions(
          redisUrl,
          // A blocking command sent to a master as it died can stay unanswered on a cluster (seen
          // in the failover test: a shard's worker stalled for good). BullMQ blocks at most ~10 s,
          // so a command pending for 30 s is given up and the worker asks again, on the new master.
          role === 'blocking' ? { ...options, commandTimeout: 30_000 } : options,
          role === 'subscriber',
        ),
      )
    : new SingleRedis(redisUrl, options);
  // Without a listener ioredis prints every reconnect attempt as an unhandled error.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * The node options above apply to each node's connection; REDIS_URL lends its user, password and
 * TLS. Slots are refreshed on MOVED/ASK and after a node is lost, so a failover is followed without
 * a restart. Reads go to masters: a replica may lag behind a gate or a lock.
 */
function clusterOptions(redisUrl: string, node: RedisOptions, shardedSubscribers: boolean): ClusterOptions {
  const url = new URL(redisUrl);
  const { enableOfflineQueue, enableAutoPipelining, retryStrategy, lazyConnect, ...perNode } = node;
  return {
    redisOptions: {
      ...perNode,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    lazyConnect,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: enableAutoPipelining ?? false,
    enableReadyCheck: true,
    clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: 2000,
    scaleReads: 'master',
    shardedSubscribers,
  };
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

/** The masters of a cluster, or the one server: for commands that act per node (SCAN, INFO, FLUSH). */
export function masterNodes(redis: Redis): SingleRedis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}

/**
 * `{…}` makes Redis Cluster hash only what is inside, so keys built with the same tag share a slot
 * and one Lua script or MULTI may touch them all: key(hashTag('coupon', id), 'users').
 */
export function hashTag(...parts: (string | number)[]): string {
  return `{${parts.join(':')}}`;
}
