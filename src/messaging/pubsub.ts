import { isCluster, type Redis } from './redis';

/**
 * Pub/sub over one Redis or a cluster. On a cluster, sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7):
 * a message stays on the node of its channel's slot, where a classic PUBLISH is broadcast over the
 * cluster bus to every node — measured by test/bench/raw/cluster-pubsub.ts at about a fifth of the
 * nodes' CPU (docs/redis-cluster.md#pubsub). On a single Redis, classic pub/sub, as always.
 * A subscriber on a cluster comes from createRedis(…, 'subscriber', …).
 */
export function publishTo(redis: Redis, channel: string, message: string): Promise<unknown> {
  return isCluster(redis) ? redis.spublish(channel, message) : redis.publish(channel, message);
}

export function subscribeTo(subscriber: Redis, channel: string): Promise<unknown> {
  return isCluster(subscriber) ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel);
}

export function unsubscribeFrom(subscriber: Redis, channel: string): Promise<unknown> {
  return isCluster(subscriber) ? subscriber.sunsubscribe(channel) : subscriber.unsubscribe(channel);
}

export function onChannelMessage(
  subscriber: Redis,
  handle: (channel: string, message: string) => void,
): void {
  subscriber.on(isCluster(subscriber) ? 'smessage' : 'message', handle);
}
