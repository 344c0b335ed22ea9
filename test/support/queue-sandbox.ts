import { randomUUID } from 'node:crypto';
import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';
import { afterAll, afterEach } from 'vitest';
import { withQuietAdd } from '../../src/messaging/event-stream';
import { runWithQuietFetch, withQuietFetch } from '../../src/messaging/quiet-fetch';
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
  const connection = (role: 'producer' | 'blocking', name: string): Redis => {
    const redis = createRedis(TEST_REDIS_URL, role, `${prefix}:${name}`);
    connections.push(redis);
    return redis;
  };
  return {
    prefix,
    /** A connection for the test's own reads (MONITOR counts, stream lengths). */
    client,
    opened,
    /** A new connection of this role, disconnected after the test. */
    connection,
    /**
     * A queue and a worker (concurrency 2), with the shop's edited BullMQ scripts (`shop`: its quiet
     * add and quiet fetch, as src/context.ts and the workers set them up) or BullMQ's own.
     */
    queueAndWorker(
      name: string,
      shop: boolean,
      process: (job: Job) => Promise<unknown>,
      options: { streamMaxLen?: number } = {},
    ) {
      const producer = connection('producer', 'producer');
      const blocking = connection('blocking', 'blocking');
      const queue = new Queue(name, {
        connection: (shop ? withQuietAdd(producer) : producer) as ConnectionOptions,
        prefix,
        ...(options.streamMaxLen ? { streams: { events: { maxLen: options.streamMaxLen } } } : {}),
      });
      const worker = new Worker(name, process, {
        connection: (shop ? withQuietFetch(blocking) : blocking) as ConnectionOptions,
        prefix,
        concurrency: 2,
        drainDelay: 60,
        autorun: false,
      });
      worker.on('error', () => undefined);
      if (shop) runWithQuietFetch(worker);
      else worker.run().catch(() => undefined);
      opened.push(worker, queue);
      return { queue, worker };
    },
  };
}
