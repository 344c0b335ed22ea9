import type { AppContext } from '../context';
import type { JobData, JobName, Mailbox } from './messages';
import { mailboxFor } from './queues';

/**
 * A timeout as a *time bucket*: one delayed job per due second (or minute) per kind of timer, shared
 * by every actor whose timer falls in it, instead of one delayed job per actor. Redis then holds
 * O(time buckets) of timers, not O(actors). When the bucket's job runs, its handler finds the due
 * actors in PostgreSQL (the truth); a sweeper catches a bucket Redis lost.
 */
export type TimerBucket = {
  [Q in Mailbox]: {
    [N in JobName<Q>]: {
      queue: Q;
      name: N;
      data: JobData<Q, N>;
      /** Deterministic per bucket, so every process adds the same job. */
      jobId: string;
      /** When the bucket's job is due (ms since the epoch): the end of its bucket. */
      dueAt: number;
    };
  }[JobName<Q>];
}[Mailbox];

/** Up to an hour a timer is bucketed by the second, beyond by the minute. */
export function bucketEnd(dueAt: number): { end: number; width: 'second' | 'minute' } {
  const width = dueAt - Date.now() <= 3_600_000 ? 1000 : 60_000;
  return { end: Math.ceil(dueAt / width) * width, width: width === 1000 ? 'second' : 'minute' };
}

/** Buckets this process has added already (job id → due time), forgotten once due. */
const added = new Map<string, number>();

/**
 * After commit: adds the buckets' delayed jobs that this process has not added yet (BullMQ keeps one
 * job per id across processes). Completed bucket jobs are removed at once.
 */
export async function addTimerBuckets(ctx: AppContext, timers: TimerBucket[]): Promise<void> {
  const now = Date.now();
  const fresh = timers.filter((t) => !added.has(`${ctx.config.redisPrefix}|${t.jobId}`));
  if (fresh.length === 0) return;
  if (added.size > 10_000) for (const [id, due] of added) if (due < now) added.delete(id);
  await Promise.all(
    fresh.map(async (t) => {
      // A bucket names no order: with sharded order mailboxes it lands on the shard of its job id, and
      // its handler finds the due orders of every shard in PostgreSQL.
      await mailboxFor(ctx.queues, t.queue, t.data, t.jobId).add(t.name, t.data, {
        jobId: t.jobId,
        delay: Math.max(0, t.dueAt - now),
        removeOnComplete: true,
      });
      added.set(`${ctx.config.redisPrefix}|${t.jobId}`, t.dueAt);
    }),
  );
}
