/**
 * The order mailbox as N shard queues (ORDER_SHARDS). Every producer — HTTP commands, the outbox
 * relay (notices, timers and their cancellations), the sweepers — picks the queue with `orderShard`,
 * so all messages of one order meet in one mailbox, and shards spread over a cluster's nodes.
 */

/** With one shard the queue keeps its historic name, so nothing changes on a single Redis. */
export function orderShardNames(shards: number): string[] {
  return shards === 1 ? ['order'] : Array.from({ length: shards }, (_, i) => `order.${i}`);
}

/** FNV-1a over the key's UTF-16 units: stable across processes, versions and restarts. */
export function shardOf(key: string, shards: number): number {
  if (shards === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/**
 * What an order job is routed by: its order id; a command that names no order yet (PLACE) or only
 * a payment (REFUND) by that id or, lacking one, its command id or job id. A job with none of them
 * (the sweep scheduler's) goes to shard 0.
 */
export function orderRoutingKey(data: unknown, jobId?: string | null): string {
  const fields = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  for (const field of ['orderId', 'paymentId', 'commandId'] as const) {
    const value = fields[field];
    if (typeof value === 'string' && value !== '') return value;
  }
  return jobId ?? '';
}

/** The shard an order job belongs to. */
export function orderShard(shards: number, data: unknown, jobId?: string | null): number {
  const key = orderRoutingKey(data, jobId);
  return key === '' ? 0 : shardOf(key, shards);
}
