import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { runWithQuietFetch, withQuietFetch } from '../../src/messaging/quiet-fetch';
import { queueSandbox } from '../support/queue-sandbox';
import { redisCommandsNaming } from '../support/redis-monitor';
import { eventually } from '../support/worker-process';

// BullMQ workers as the shop runs them (src/messaging/quiet-fetch.ts) against BullMQ's own: how many
// fetches a job costs, and that jobs are still taken promptly, side by side and after a delay. Each
// worker waits up to a minute on its marker (drainDelay), so a wake-up that never comes shows as a
// test that times out, not as a slow pass.
const { prefix, client, opened, connection } = queueSandbox('qf');

function queue(name: string) {
  const q = new Queue(name, { connection: connection('producer', 'producer') as ConnectionOptions, prefix });
  opened.push(q);
  return q;
}

function worker(name: string, quiet: boolean, process: (job: Job) => Promise<unknown>, concurrency = 4) {
  const plain = connection('blocking', 'worker');
  const w = new Worker(name, process, {
    connection: (quiet ? withQuietFetch(plain) : plain) as ConnectionOptions,
    prefix,
    concurrency,
    drainDelay: 60,
    autorun: false,
  });
  w.on('error', () => undefined);
  if (quiet) runWithQuietFetch(w);
  else w.run().catch(() => undefined);
  opened.push(w);
  return w;
}

/**
 * Jobs added one at a time, each once the previous one is done (an idle queue each time): the tries
 * to take a job from the wait list (`RPOPLPUSH`, in a fetch or in a finish that takes the next job).
 */
async function takesPerLoneJob(quiet: boolean): Promise<number> {
  const name = `lone-${quiet ? 'quiet' : 'plain'}`;
  const q = queue(name);
  const done = new Set<string>();
  const w = worker(name, quiet, async (job) => {
    done.add(job.id!);
  });
  await w.waitUntilReady();
  // The worker's first wait on the marker starts before the count does.
  await q.add('warm', {}, { jobId: 'warm' });
  await eventually(async () => done.has('warm') || undefined, 15_000, 5);
  const jobs = 10;
  const counts = await redisCommandsNaming({ prefix, redis: client }, async () => {
    for (let i = 0; i < jobs; i++) {
      await q.add('lone', { i }, { jobId: `lone-${i}` });
      await eventually(async () => done.has(`lone-${i}`) || undefined, 15_000, 5);
      // Its finish before the next job arrives.
      await eventually(async () => ((await q.getCompletedCount()) === i + 2 ? true : undefined), 15_000, 5);
    }
  });
  return (counts.get('rpoplpush') ?? 0) / jobs;
}

describe('BullMQ fetches in the shop workers', () => {
  it('a job arriving at an idle queue is looked for once (BullMQ alone: three more times, finding nothing)', async () => {
    const quiet = await takesPerLoneJob(true);
    const plain = await takesPerLoneJob(false);
    console.info(`tries to take a job per lone job: quiet ${quiet}, BullMQ's own ${plain}`);
    expect(quiet).toBeLessThanOrEqual(1.1);
    expect(plain).toBeGreaterThanOrEqual(3);
  });

  it('a burst is shared by two workers, several jobs at a time each, all taken', async () => {
    const name = 'burst';
    const q = queue(name);
    const done = new Map<string, string>();
    const busy = new Map<string, { now: number; most: number }>();
    const processorOf = (workerName: string) => async (job: Job) => {
      const load = busy.get(workerName) ?? { now: 0, most: 0 };
      busy.set(workerName, load);
      load.now++;
      load.most = Math.max(load.most, load.now);
      await new Promise((resolve) => setTimeout(resolve, 20));
      load.now--;
      done.set(job.id!, workerName);
    };
    const workers = [worker(name, true, processorOf('a')), worker(name, true, processorOf('b'))];
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    await q.addBulk(
      Array.from({ length: 60 }, (_, i) => ({ name: 'burst', data: { i }, opts: { jobId: `b-${i}` } })),
    );
    await eventually(async () => (done.size === 60 ? true : undefined), 20_000, 10);
    expect(new Set(done.values())).toEqual(new Set(['a', 'b']));
    expect(busy.get('a')!.most).toBeGreaterThan(1);
    expect(busy.get('b')!.most).toBeGreaterThan(1);
  });

  it('jobs added while the worker is busy, and a delayed job, are taken without waiting out drainDelay', async () => {
    const name = 'trickle';
    const q = queue(name);
    const done = new Set<string>();
    const w = worker(
      name,
      true,
      async (job) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        done.add(job.id!);
      },
      2,
    );
    await w.waitUntilReady();
    for (let i = 0; i < 12; i++) {
      await q.add('trickle', { i }, { jobId: `t-${i}` });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await q.add('later', {}, { jobId: 'later', delay: 300 });
    await eventually(async () => (done.size === 13 ? true : undefined), 20_000, 10);
    expect(done.has('later')).toBe(true);
  });

  it("a job taken by the previous job's finish leaves no marker behind that wakes a fetch finding nothing", async () => {
    const fetchesFindingNothing = async (quiet: boolean) => {
      const name = `queued-${quiet ? 'quiet' : 'plain'}`;
      const q = queue(name);
      const started = new Set<string>();
      const done = new Set<string>();
      const w = worker(
        name,
        quiet,
        async (job) => {
          started.add(job.id!);
          await new Promise((resolve) => setTimeout(resolve, 30));
          done.add(job.id!);
        },
        1,
      );
      await w.waitUntilReady();
      const pairs = 8;
      const counts = await redisCommandsNaming({ prefix, redis: client }, async () => {
        for (let i = 0; i < pairs; i++) {
          // The second job arrives while the only slot is busy: the first one's finish takes it.
          await q.add('first', {}, { jobId: `first-${i}` });
          await eventually(async () => started.has(`first-${i}`) || undefined, 15_000, 2);
          await q.add('second', {}, { jobId: `second-${i}` });
          await eventually(async () => done.has(`second-${i}`) || undefined, 15_000, 5);
          // The worker back waiting on the marker before the next pair.
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      });
      expect(done.size).toBe(2 * pairs);
      // A take that finds the wait list empty tries the prioritized set (`ZPOPMIN`); the shop has none.
      return (counts.get('zpopmin') ?? 0) / pairs;
    };
    const quiet = await fetchesFindingNothing(true);
    const plain = await fetchesFindingNothing(false);
    console.info(`fetches finding nothing per queued job: quiet ${quiet}, BullMQ's own ${plain}`);
    expect(quiet).toBeLessThanOrEqual(0.25);
    expect(plain).toBeGreaterThanOrEqual(1);
  });

  it('a finish leaves a waiting job to the worker its marker woke (that fetch would otherwise find nothing)', async () => {
    const name = 'woken';
    const q = queue(name);
    const done = new Set<string>();
    const markerKey = `${prefix}:${name}:marker`;
    const w = worker(
      name,
      true,
      async (job) => {
        if (job.name === 'first') {
          // A job arrives, and another worker, woken by its marker, is on its way to fetch it.
          await q.add('second', {}, { jobId: 'second' });
          expect(await client.zpopmin(markerKey)).toEqual(['0', '0']);
        }
        done.add(job.id!);
      },
      1,
    );
    await w.waitUntilReady();
    await q.add('first', {}, { jobId: 'first' });
    await eventually(async () => ((await q.getCompletedCount()) === 1 ? true : undefined), 15_000, 5);
    // The first job's finish did not take it: it waits for the fetch of the worker that was woken …
    expect(await q.getJobState('second')).toBe('waiting');
    // … which comes (played here by putting the marker back, as no other worker runs).
    await client.zadd(markerKey, 0, '0');
    await eventually(async () => done.has('second') || undefined, 15_000, 5);
  });

  // A worker that popped the delay marker holds the due time in memory only; taking a job makes it
  // forget it (BullMQ's blind fetches used to tell it again).
  it('a delayed job keeps its time when a job arrives after a worker took its marker', async () => {
    const name = 'delay-then-job';
    const q = queue(name);
    const doneAt = new Map<string, number>();
    const w = worker(name, true, async (job) => {
      doneAt.set(job.id!, Date.now());
    });
    await w.waitUntilReady();
    const delayedAt = Date.now();
    await q.add('late', {}, { jobId: 'late', delay: 1500 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await q.add('now', {}, { jobId: 'now' });
    await eventually(async () => doneAt.get('late'), 15_000, 10);
    expect(doneAt.get('now')).toBeDefined();
    expect(doneAt.get('late')! - delayedAt).toBeGreaterThanOrEqual(1500);
  });

  it('a retry with backoff keeps its time when a job arrives while it waits', async () => {
    const name = 'backoff-then-job';
    const q = queue(name);
    const done = new Set<string>();
    const w = worker(name, true, async (job) => {
      if (job.id === 'flaky' && job.attemptsMade === 0) throw new Error('transient');
      done.add(job.id!);
    });
    await w.waitUntilReady();
    await q.add('flaky', {}, { jobId: 'flaky', attempts: 2, backoff: { type: 'fixed', delay: 1000 } });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await q.add('now', {}, { jobId: 'now' });
    await eventually(async () => done.has('flaky') || undefined, 15_000, 10);
    expect(done.has('now')).toBe(true);
  });

  it("refuses a rate-limited worker, whose wake-up after its wait is BullMQ's blind fetch", async () => {
    const limited = new Worker('limited', async () => undefined, {
      connection: withQuietFetch(connection('blocking', 'limited')) as ConnectionOptions,
      prefix,
      limiter: { max: 1, duration: 500 },
      autorun: false,
    });
    opened.push(limited);
    expect(() => runWithQuietFetch(limited)).toThrow(/rate-limited/);
  });

  it('refuses a worker on a connection without the quiet fetch scripts (half of the change loses wake-ups)', async () => {
    const plain = connection('blocking', 'plain');
    const unprepared = new Worker('unprepared', async () => undefined, {
      connection: plain as ConnectionOptions,
      prefix,
      autorun: false,
    });
    opened.push(unprepared);
    expect(() => runWithQuietFetch(unprepared)).toThrow(/withQuietFetch connection/);
  });
});
