import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { queueSandbox } from '../support/queue-sandbox';
import { eventually } from '../support/worker-process';

// The queue's event stream as the shop's producers and workers leave it (src/messaging/event-stream.ts),
// side by side with BullMQ's own: a job's plain life (added, waiting, active, completed, drained) is no
// longer written, a failure still is, and the jobs themselves end as before.
const { prefix, client, queueAndWorker: sandboxQueueAndWorker } = queueSandbox('es');

const queueAndWorker = (
  name: string,
  quiet: boolean,
  process: (job: Job) => Promise<unknown>,
  streamMaxLen?: number,
) => sandboxQueueAndWorker(name, quiet, process, { streamMaxLen });

async function streamEvents(name: string): Promise<string[]> {
  const entries = await client.xrange(`${prefix}:${name}:events`, '-', '+');
  return entries.map(([, fields]) => `${fields[1]}:${fields[3]}`);
}

/** Two jobs kept on completion, one removed, one failing for good; every job ended. */
async function run(quiet: boolean) {
  const name = `life-${quiet ? 'quiet' : 'plain'}`;
  const finished = new Set<string>();
  const { queue, worker } = queueAndWorker(name, quiet, async (job) => {
    finished.add(job.id!);
    if (job.name === 'bad') throw new Error('refused');
    return 'ok';
  });
  await worker.waitUntilReady();
  await queue.add('good', {}, { jobId: 'kept-1' });
  await queue.add('good', {}, { jobId: 'kept-2' });
  await queue.add('good', {}, { jobId: 'removed', removeOnComplete: true });
  await queue.add('bad', {}, { jobId: 'refused', attempts: 1 });
  await eventually(async () => ((await queue.getFailedCount()) === 1 ? true : undefined), 15_000, 5);
  await eventually(async () => ((await queue.getCompletedCount()) === 2 ? true : undefined), 15_000, 5);
  expect(finished).toEqual(new Set(['kept-1', 'kept-2', 'removed', 'refused']));
  expect((await queue.getCompleted()).map((job) => job.returnvalue)).toEqual(['ok', 'ok']);
  expect(await queue.getJob('removed')).toBeUndefined();
  expect((await queue.getFailed())[0]?.failedReason).toBe('refused');
  return streamEvents(name);
}

describe('the queue event stream', () => {
  it("holds a job's failure but not its plain life (BullMQ alone: every step of every job)", async () => {
    const plain = await run(false);
    const quiet = await run(true);
    console.info(`event stream entries: quiet ${quiet.length}, BullMQ's own ${plain.length}`);
    for (const event of [
      'added:kept-1',
      'waiting:kept-1',
      'active:kept-1',
      'completed:kept-1',
      'completed:removed',
    ])
      expect(plain).toContain(event);
    expect(quiet.filter((event) => !event.endsWith(':refused'))).toEqual([]);
    expect(quiet).toEqual(expect.arrayContaining(['failed:refused', 'retries-exhausted:refused']));
  });

  it('stays short when what is still written (retries with backoff, delayed jobs) runs for long', async () => {
    const name = 'bounded';
    const attempts = new Map<string, number>();
    const { queue, worker } = queueAndWorker(
      name,
      true,
      async (job) => {
        const seen = (attempts.get(job.id!) ?? 0) + 1;
        attempts.set(job.id!, seen);
        if (seen === 1 && job.name === 'flaky') throw new Error('once');
      },
      20,
    );
    await worker.waitUntilReady();
    const jobs = 150;
    for (let i = 0; i < jobs; i++) {
      const name = i % 3 === 0 ? 'delayed' : 'flaky';
      await queue.add(
        name,
        {},
        { jobId: `b-${i}`, attempts: 2, backoff: 1, delay: name === 'delayed' ? 5 : 0 },
      );
    }
    await eventually(async () => ((await queue.getCompletedCount()) === jobs ? true : undefined), 30_000, 20);
    const length = await client.xlen(`${prefix}:${name}:events`);
    console.info(`event stream after ${jobs} jobs (100 retried with backoff, 50 delayed): ${length} entries`);
    // Unbounded, each retry (failed attempt, delayed, waiting, active) and each delayed job (added,
    // delayed, waiting) would leave ≈ 450 entries (448 measured with the limit at 10,000); the trims keep a node or two.
    expect(length).toBeLessThanOrEqual(250);
  });
});
