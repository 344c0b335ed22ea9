import { randomUUID } from 'node:crypto';
import { afterAll, afterEach } from 'vitest';
import { createRedis, type Redis } from '../../src/messaging/redis';
import { TEST_REDIS_URL } from './test-shop';

/**
 * BullMQ queues and workers of one test file on the shared test Redis, under a key prefix of its own:
 * what a test opens (`opened`: queues and workers, closed last-opened first) and the connections it
 * makes (`connection`) are closed after each test, and the prefix's keys are deleted after the file.
 */
export function queueSandbox(label: string) {
  const prefix = `${label}-${randomUUID().slice(0, 8)}`;
  const client = createRedis(TEST_REDIS_URL, 'command', `${prefix}:test`);
  const opened: { close: () => Promise<unknown> }[] = [];
  const connections: Redis[] = [];
  afterEach(async () => {
    for (const it of opened.splice(0).reverse()) await it.close();
    for (const connection of connections.splice(0)) connection.disconnect();
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });
  return {
    prefix,
    /** A connection for the test's own reads (MONITOR counts, stream lengths). */
    client,
    opened,
    /** A new connection of this role, disconnected after the test. */
    connection(role: 'producer' | 'blocking', name: string): Redis {
      const redis = createRedis(TEST_REDIS_URL, role, `${prefix}:${name}`);
      connections.push(redis);
      return redis;
    },
  };
}
