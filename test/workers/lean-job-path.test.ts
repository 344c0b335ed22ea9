import { randomUUID } from 'node:crypto';
import { type ConnectionOptions, FlowProducer, type Job, Queue, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { withQuietFetch } from '../../src/messaging/quiet-fetch';
import { queueSandbox } from '../support/queue-sandbox';
import { redisCommandsNaming } from '../support/redis-monitor';
import { eventually } from '../support/worker-process';

// A job's plain life with the reads and writes the shop's scripts make together
// (src/messaging/lean-job-path.ts), side by side with BullMQ's own: what a processor sees, what a
// job leaves in Redis, how a wrong finish is refused, and the commands a job costs.
const { prefix, client, opened, connection, queueAndWorker } = queueSandbox('lp');

/** Keys and job hashes under a queue, with times and tokens blanked. */
async function leftInRedis(queueName: string) {
  const base = `${prefix}:${queueName}:`;
  const keys = (await client.keys(`${base}*`)).map((k) => k.slice(base.length)).sort();
  const hashes: Record<string, string[]> = {};
  for (const key of keys) {
    if ((await client.type(base + key)) !== 'hash' || key === 'meta') continue;
    hashes[key] = Object.entries(await client.hgetall(base + key))
      .map(([field, value]) =>
        /^(processedOn|finishedOn|timestamp|pb)$/.test(field) ? field : `${field}=${value}`,
      )
      .sort();
  }
  // Not a job's: the wake-up marker is there or not depending on whether the worker's last wait took
  // it before the worker closed (a delayed job puts it back after each take) — seen both ways.
  const queueKeys = new Set(['meta', 'stalled-check', 'marker']);
  return { keys: keys.filter((k) => !queueKeys.has(k)), hashes };
}

async function run(lean: boolean) {
  const name = `path-${lean ? 'lean' : 'plain'}`;
  const seen: string[] = [];
  const { queue, worker } = queueAndWorker(name, lean, async (job) => {
    seen.push(
      `${job.id}: started ${job.attemptsStarted}, made ${job.attemptsMade}, taken ${job.processedOn! > 0}`,
    );
    if (job.name === 'flaky' && job.attemptsMade === 0) throw new Error('once');
    if (job.name === 'bad') throw new Error('refused');
  });
  await worker.waitUntilReady();
  await queue.add('far', {}, { jobId: 'far', delay: 600_000 });
  const removed = 10;
  const counts = await redisCommandsNaming({ prefix, redis: client }, async () => {
    for (let i = 0; i < removed; i++) {
      await queue.add('lone', {}, { jobId: `removed-${i}`, removeOnComplete: true });
      await eventually(async () => ((await queue.getJob(`removed-${i}`)) ? undefined : true), 15_000, 5);
    }
  });
  await queue.add('kept', {}, { jobId: 'kept' });
  await queue.add('flaky', {}, { jobId: 'flaky', attempts: 2, removeOnComplete: false });
  await queue.add('bad', {}, { jobId: 'bad', attempts: 1, removeOnFail: true });
  await queue.add('soon', {}, { jobId: 'soon', delay: 300 });
  // Kept by age and count, as the shop's queues keep their jobs by default (src/messaging/queues.ts).
  await queue.add('aged', {}, { jobId: 'aged', removeOnComplete: { age: 3600, count: 5000 } });
  await eventually(async () => ((await queue.getCompletedCount()) === 4 ? true : undefined), 15_000, 5);
  await eventually(async () => (seen.some((s) => s.startsWith('bad')) ? true : undefined), 15_000, 5);
  await eventually(async () => ((await queue.getJob('bad')) ? undefined : true), 15_000, 5);
  await worker.close();
  const perRemovedJob = (command: string) => (counts.get(command) ?? 0) / removed;
  const total = [...counts.values()].reduce((a, b) => a + b, 0) / removed;
  return {
    seen: seen.sort(),
    left: await leftInRedis(name),
    attempts: {
      kept: [(await queue.getJob('kept'))?.attemptsStarted, (await queue.getJob('kept'))?.attemptsMade],
      flaky: [(await queue.getJob('flaky'))?.attemptsStarted, (await queue.getJob('flaky'))?.attemptsMade],
    },
    delayed: await queue.getDelayed(),
    perRemovedJob: {
      total,
      exists: perRemovedJob('exists'),
      scard: perRemovedJob('scard'),
      zcard: perRemovedJob('zcard'),
      zrangebyscore: perRemovedJob('zrangebyscore'),
      zrange: perRemovedJob('zrange'),
      hincrby: perRemovedJob('hincrby'),
      del: perRemovedJob('del'),
    },
  };
}

/** A queue whose finishes run the shop's scripts (`lean`) or BullMQ's, and a job taken by hand. */
async function takenByHand(lean: boolean, opts: { removeOnComplete: boolean }) {
  const name = `hand-${lean ? 'lean' : 'plain'}-${randomUUID().slice(0, 6)}`;
  const plain = connection('blocking', 'hand');
  const conn = (lean ? withQuietFetch(plain) : plain) as ConnectionOptions;
  const queue = new Queue(name, { connection: conn, prefix });
  const worker = new Worker(name, null, { connection: conn, prefix, autorun: false, name: 'by-hand' });
  opened.push(worker, queue);
  await queue.add('hand', {}, { jobId: 'hand', removeOnComplete: opts.removeOnComplete });
  const token = randomUUID();
  const job = (await worker.getNextJob(token)) as Job;
  const lockKey = `${prefix}:${name}:hand:lock`;
  return { queue, job, token, lockKey };
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => 'finished',
    (err: Error) => err.message.replace(/hand-(lean|plain)-\w+/, 'Q'),
  );

describe("a job's plain life in the shop's BullMQ scripts", () => {
  it('is what BullMQ makes of it, with fewer commands', async () => {
    const plain = await run(false);
    const lean = await run(true);
    console.info(
      `commands per removed job: lean ${JSON.stringify(lean.perRemovedJob)}, BullMQ's own ${JSON.stringify(plain.perRemovedJob)}`,
    );

    expect(lean.seen).toEqual([
      'aged: started 1, made 0, taken true',
      'bad: started 1, made 0, taken true',
      'flaky: started 1, made 0, taken true',
      'flaky: started 2, made 1, taken true',
      'kept: started 1, made 0, taken true',
      ...Array.from({ length: 10 }, (_, i) => `removed-${i}: started 1, made 0, taken true`).sort(),
      'soon: started 1, made 0, taken true',
    ]);
    expect(plain.seen).toEqual(lean.seen);
    expect(lean.attempts).toEqual({ kept: [1, 1], flaky: [2, 2] });
    expect(plain.attempts).toEqual(lean.attempts);
    // Nothing left of removed jobs (their locks included); kept jobs' hashes field for field.
    expect(lean.left.keys).toEqual([
      'aged',
      'completed',
      'delayed',
      'events',
      'far',
      'flaky',
      'id',
      'kept',
      'soon',
    ]);
    expect(lean.left).toEqual(plain.left);
    expect(lean.delayed.map((j) => j.id)).toEqual(['far']);
    expect(plain.delayed.map((j) => j.id)).toEqual(['far']);

    // Per job removed on completion while a delayed job is far off: no existence check apart from
    // the hash read, no count of a flow's children, no separate search for due delayed jobs, no
    // attempts increment, one DEL for the job's keys and its lock.
    expect(lean.perRemovedJob.scard).toBe(0);
    expect(lean.perRemovedJob.zrangebyscore).toBe(0);
    // The head read by the search for due jobs answers the next due time too.
    expect(lean.perRemovedJob.zrange).toBeLessThan(1.5);
    expect(lean.perRemovedJob.hincrby).toBe(0);
    expect(lean.perRemovedJob.del).toBe(1);
    expect(plain.perRemovedJob.scard).toBeGreaterThanOrEqual(1);
    expect(plain.perRemovedJob.zrangebyscore).toBeGreaterThanOrEqual(1);
    expect(plain.perRemovedJob.del).toBeGreaterThanOrEqual(2);
    expect(lean.perRemovedJob.total).toBeLessThanOrEqual(plain.perRemovedJob.total - 5);
  });

  it('refuses a finish with the wrong token, of a job not active, of a missing job, of one with a failed child, as BullMQ does', async () => {
    const outcomes = async (lean: boolean) => {
      const wrong = await takenByHand(lean, { removeOnComplete: true });
      const processedBy = [
        wrong.job.processedBy,
        await client.hget(`${prefix}:${wrong.queue.name}:hand`, 'pb'),
      ];
      const wrongToken = await refusal(wrong.job.moveToCompleted('x', 'not-the-token', false));
      const lockKept = await client.get(wrong.lockKey);
      const rightToken = await refusal(wrong.job.moveToCompleted('x', wrong.token, false));
      const leftAfter = await client.exists(wrong.lockKey, `${prefix}:${wrong.queue.name}:hand`);

      const inactive = await takenByHand(lean, { removeOnComplete: true });
      await client.lrem(`${prefix}:${inactive.queue.name}:active`, 0, 'hand');
      const notActive = await refusal(inactive.job.moveToCompleted('x', inactive.token, false));
      const lockAfterRefusal = await client.exists(inactive.lockKey);

      const missing = await takenByHand(lean, { removeOnComplete: false });
      await client.del(`${prefix}:${missing.queue.name}:hand`);
      const missingJob = await refusal(missing.job.moveToCompleted('x', missing.token, false));

      // A failed child recorded against the job (a flow's continueParentOnFailure).
      const failedChild = await takenByHand(lean, { removeOnComplete: true });
      await client.zadd(`${prefix}:${failedChild.queue.name}:hand:unsuccessful`, 1, 'child');
      const withFailedChild = await refusal(failedChild.job.moveToCompleted('x', failedChild.token, false));
      return {
        processedBy,
        withFailedChild,
        wrongToken,
        lockKept: lockKept === wrong.token,
        rightToken,
        leftAfter,
        notActive,
        lockAfterRefusal,
        missingJob,
      };
    };
    const lean = await outcomes(true);
    expect(lean).toEqual({
      processedBy: ['by-hand', 'by-hand'],
      withFailedChild: expect.stringContaining('failed child'),
      wrongToken: expect.stringContaining('Lock mismatch'),
      lockKept: true,
      rightToken: 'finished',
      leftAfter: 0,
      notActive: expect.stringContaining('not in the active state'),
      lockAfterRefusal: 0,
      missingJob: expect.stringContaining('Missing key'),
    });
    expect(await outcomes(false)).toEqual(lean);
  });

  it('refuses to complete a parent whose children have not finished, as BullMQ does', async () => {
    const outcome = async (lean: boolean) => {
      const name = `flow-${lean ? 'lean' : 'plain'}`;
      const flows = new FlowProducer({
        connection: connection('producer', 'flows') as ConnectionOptions,
        prefix,
      });
      opened.push(flows);
      const { job } = await flows.add({
        name: 'parent',
        queueName: name,
        children: [{ name: 'child', queueName: name }],
      });
      const plain = connection('producer', 'finisher');
      const queue = new Queue(name, {
        connection: (lean ? withQuietFetch(plain) : plain) as ConnectionOptions,
        prefix,
      });
      opened.push(queue);
      const parent = (await queue.getJob(job.id!)) as Job;
      return (await refusal(parent.moveToCompleted('x', 'any', false))).replace(job.id!, 'P');
    };
    const lean = await outcome(true);
    expect(lean).toContain('pending dependencies');
    expect(await outcome(false)).toBe(lean);
  });

  it('puts the next due time back as the delay marker after a take that promoted a due job', async () => {
    const name = `promoted-${randomUUID().slice(0, 6)}`;
    const conn = withQuietFetch(connection('blocking', 'promoted')) as ConnectionOptions;
    const queue = new Queue(name, { connection: conn, prefix });
    const worker = new Worker(name, null, { connection: conn, prefix, autorun: false });
    opened.push(worker, queue);
    await queue.add('far', {}, { jobId: 'far', delay: 600_000 });
    await queue.add('soon', {}, { jobId: 'soon', delay: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const farScore = Number(await client.zscore(`${prefix}:${name}:delayed`, 'far'));

    const job = (await worker.getNextJob(randomUUID())) as Job;

    expect(job.id).toBe('soon');
    // Not the promoted job's time, read before it was promoted: the one still delayed.
    expect(Number(await client.zscore(`${prefix}:${name}:marker`, '1'))).toBe(farScore / 0x1000);
  });
});
