import { describe, expect, it } from 'vitest';
import { queueSandbox } from '../support/queue-sandbox';
import { redisCommandsNaming } from '../support/redis-monitor';
import { eventually } from '../support/worker-process';

// The counters BullMQ keeps per job, as the shop's producers and workers leave them
// (src/messaging/job-counters.ts), side by side with BullMQ's own: the queue's id counter only for
// jobs without an id of their own, a job's attempt count only where the job stays; ids, attempts,
// duplicates and deduplication come out as BullMQ's.
const { prefix, client, queueAndWorker } = queueSandbox('jc');

/** Jobs with and without ids of their own, kept, removed, retried; what they leave behind. */
async function run(lean: boolean) {
  const name = `counters-${lean ? 'lean' : 'plain'}`;
  const tries = new Map<string, number>();
  const { queue, worker } = queueAndWorker(name, lean, async (job) => {
    const seen = (tries.get(job.id!) ?? 0) + 1;
    tries.set(job.id!, seen);
    if (job.name === 'flaky' && seen === 1) throw new Error('once');
    if (job.name === 'bad') throw new Error('refused');
  });
  await worker.waitUntilReady();
  const counts = await redisCommandsNaming({ prefix, redis: client }, async () => {
    for (let i = 0; i < 10; i++)
      await queue.add('lone', {}, { jobId: `removed-${i}`, removeOnComplete: true });
    await eventually(async () => (tries.size === 10 ? true : undefined), 15_000, 5);
    await eventually(async () => ((await queue.getJob('removed-9')) ? undefined : true), 15_000, 5);
  });
  const numbered = [(await queue.add('numbered', {})).id, (await queue.add('numbered', {})).id];
  await queue.add('kept', {}, { jobId: 'kept' });
  await queue.add('flaky', {}, { jobId: 'flaky', attempts: 2 });
  await queue.add('bad', {}, { jobId: 'bad', attempts: 1, removeOnFail: true });
  await eventually(async () => ((await queue.getCompletedCount()) === 4 ? true : undefined), 15_000, 5);
  await eventually(async () => (tries.get('bad') === 1 ? true : undefined), 15_000, 5);
  const idCounter = await client.get(`${prefix}:${name}:id`);
  // A job id that exists already, and a deduplicated add: the answers and events of either.
  const duplicate = (await queue.add('kept', {}, { jobId: 'kept' })).id;
  const first = (
    await queue.add('dedup', {}, { jobId: 'dedup-1', delay: 60_000, deduplication: { id: 'd' } })
  ).id;
  const second = (await queue.add('dedup', {}, { jobId: 'dedup-2', deduplication: { id: 'd' } })).id;
  const events = (await client.xrange(`${prefix}:${name}:events`, '-', '+')).map(
    ([, f]) => `${f[1]}:${f[3]}`,
  );
  return {
    idCounter,
    numbered,
    attempts: {
      kept: (await queue.getJob('kept'))?.attemptsMade,
      flaky: (await queue.getJob('flaky'))?.attemptsMade,
      bad: await queue.getJob('bad'),
    },
    duplicate,
    deduplicated: [first, second],
    events: events.filter((e) => /^(duplicated|deduplicated):/.test(e)),
    perRemovedJob: {
      incr: (counts.get('incr') ?? 0) / 10,
      hincrby: (counts.get('hincrby') ?? 0) / 10,
      hget: (counts.get('hget') ?? 0) / 10,
    },
  };
}

describe("BullMQ's per-job counters in the shop's producers and workers", () => {
  it('keep what stays and is read, and nothing that is thrown away (BullMQ alone: both for every job)', async () => {
    const plain = await run(false);
    const lean = await run(true);
    console.info(
      `per removed job: lean ${JSON.stringify(lean.perRemovedJob)}, BullMQ's own ${JSON.stringify(plain.perRemovedJob)}`,
    );

    // The id counter: BullMQ's counts every add (15), the shop's only the two jobs it numbered (a
    // delayed add, another script, still counts as BullMQ's does: the shop adds few, one per timer bucket).
    expect(Number(plain.idCounter)).toBeGreaterThanOrEqual(15);
    expect(lean.idCounter).toBe('2');
    expect(lean.numbered).toEqual(['1', '2']);
    expect(plain.numbered.map(Number)).toEqual([11, 12]);

    // Attempts where the job stays: kept after one, retried once, removed on failure.
    expect(lean.attempts).toEqual({ kept: 1, flaky: 2, bad: undefined });
    expect(plain.attempts).toEqual(lean.attempts);

    // A duplicate id answers the existing job, a deduplicated add the first one, each with its event.
    expect(lean.duplicate).toBe('kept');
    expect(lean.deduplicated).toEqual(['dedup-1', 'dedup-1']);
    expect(lean.events).toEqual(['duplicated:kept', 'deduplicated:dedup-1']);
    expect({ duplicate: plain.duplicate, deduplicated: plain.deduplicated, events: plain.events }).toEqual({
      duplicate: lean.duplicate,
      deduplicated: lean.deduplicated,
      events: lean.events,
    });

    // A job with its own id, removed on completion: no id counted, no attempt counted, no stream limit read.
    expect(lean.perRemovedJob.incr).toBe(0);
    expect(lean.perRemovedJob.hincrby).toBeLessThan(plain.perRemovedJob.hincrby);
    // (The worker's start-up stalled check reads the limit once, and may fall in the window.)
    expect(lean.perRemovedJob.hget).toBeLessThan(0.5);
    expect(plain.perRemovedJob.hget).toBeGreaterThanOrEqual(1);
    expect(plain.perRemovedJob.incr).toBe(1);
  });
});
