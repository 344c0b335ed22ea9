import type { Worker } from 'bullmq';
import type { Logger } from '../src/logger';

export interface WatchedConsumer {
  queueName: string;
  worker: Worker;
  /** When the worker last took a job (or was started). */
  lastActive: number;
}

/**
 * On a Redis Cluster a BullMQ worker whose master died under its blocking wait was seen to stay idle
 * for good while jobs piled up in its queue (test/cluster/cluster-failover.test.ts). This restarts a
 * consumer that has taken no job for `stallMs` while its queue has jobs waiting; a busy or merely
 * idle consumer is left alone.
 */
export function watchForStalls<C extends WatchedConsumer>(options: {
  consumers: C[];
  waitingCount: (queueName: string) => Promise<number>;
  restart: (consumer: C) => void;
  stallMs: number;
  log: Logger;
}): () => void {
  const { consumers, waitingCount, restart, stallMs, log } = options;
  const timer = setInterval(async () => {
    for (const consumer of consumers) {
      if (Date.now() - consumer.lastActive < stallMs) continue;
      const waiting = await waitingCount(consumer.queueName).catch(() => 0);
      if (waiting === 0) continue;
      log.warn({ queue: consumer.queueName, waiting }, 'consumer took no job while jobs wait: restarting it');
      restart(consumer);
    }
  }, stallMs);
  timer.unref();
  return () => clearInterval(timer);
}
