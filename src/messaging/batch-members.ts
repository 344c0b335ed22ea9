import { type Job, UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import type { Logger } from '../logger';
import type { MessageBatch } from './messages';

export type BatchMember = MessageBatch['members'][number];

/** A batch job's progress: the members an earlier attempt applied or gave up on, by id. */
const SettledMembers = z.object({ settled: z.array(z.string()) });

/** What retrying cannot fix (a poisoned payload, a machine rejection): BullMQ's own test of it. */
export const isUnrecoverable = (error: unknown) =>
  error instanceof UnrecoverableError || (error instanceof Error && error.name === 'UnrecoverableError');

export interface BatchRun<M> {
  /** The member's own id (its progress entry). */
  idOf: (member: M) => string;
  /** Runs one member exactly as its lone message's job would run. */
  run: (member: M) => Promise<unknown>;
  /**
   * Members of one lane run one after another, in the batch's order (one order's notices or commands);
   * lanes run side by side. A lane stops at a member a retry must run again: the rest wait for it.
   */
  laneOf: (member: M) => string;
  /** At most this many lanes at once (the mailbox's own concurrency: a batch takes no more than its lone jobs would). */
  concurrency: number;
  log: Logger;
}

/**
 * Runs the members of a batch job (`…_BATCH`, COMMAND_BATCH), each with its own idempotency, so one member's failure never
 * loses or repeats a neighbour's effects. When a member fails on something a retry can fix, the job
 * records which members are settled (its progress — one Redis call, only on that path) and fails;
 * its retry, with the lone job's backoff and attempt budget, runs only the others. A member that
 * cannot succeed (UnrecoverableError) is given up alone, as its lone job would be: the batch ends
 * failed for good once the others are applied. What the job's last attempt leaves undone is
 * re-derived from PostgreSQL by the sweepers, as for a lone job.
 */
export async function runBatchMembers<M>(job: Job, members: readonly M[], batch: BatchRun<M>) {
  const earlier = SettledMembers.safeParse(job.progress);
  const settled = new Set(earlier.success ? earlier.data.settled : []);
  const lanes = [
    ...Map.groupBy(
      members.filter((m) => !settled.has(batch.idOf(m))),
      batch.laneOf,
    ).values(),
  ];
  const retryable: unknown[] = [];
  const givenUp: { id: string; error: string }[] = [];
  const runLane = async (lane: M[]) => {
    for (const member of lane) {
      const id = batch.idOf(member);
      try {
        await batch.run(member);
        settled.add(id);
      } catch (error) {
        if (!isUnrecoverable(error)) {
          retryable.push(error);
          return;
        }
        settled.add(id);
        givenUp.push({ id, error: String(error) });
        batch.log.error(
          { member: id, err: String(error) },
          'batch member refused for good; its neighbours go on',
        );
      }
    }
  };
  const runners = Array.from({ length: Math.min(batch.concurrency, lanes.length) }, async () => {
    for (let lane = lanes.shift(); lane; lane = lanes.shift()) await runLane(lane);
  });
  await Promise.all(runners);
  if (retryable.length > 0) {
    await job.updateProgress({ settled: [...settled] });
    throw retryable[0];
  }
  if (givenUp.length > 0)
    throw new UnrecoverableError(
      `${givenUp.length} of ${members.length} members refused: ${givenUp.map((g) => `${g.id}: ${g.error}`).join('; ')}`,
    );
}
