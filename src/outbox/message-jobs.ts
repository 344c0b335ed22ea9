import type { JobsOptions } from 'bullmq';
import type { Row } from '../db/database';
import { asDate } from '../db/sql';
import { BATCH_OF, MAX_MESSAGE_BATCH, type MessageBatch } from '../messaging/messages';
import type { QueueName } from '../messaging/queues';

export interface MessageJob {
  name: string;
  data: unknown;
  opts: JobsOptions;
}

/** What of a claimed outbox row (outbox-publish.ts) becomes a job. */
type OutboxRecord = Row<
  'outbox_events',
  'id' | 'type' | 'payload' | 'job_id' | 'deliver_at' | 'cancel' | 'attempts' | 'deliveries'
> & {
  queue: QueueName;
};

/** The job id a row travels under alone (and is known by inside a batch). */
const jobIdOf = (row: OutboxRecord) => row.job_id ?? row.id;

/** The batch job that carries rows of this kind (by mailbox and message type), if any. */
function batchKindOf(row: OutboxRecord): string | undefined {
  const names: Record<string, string> | undefined = (BATCH_OF as Record<string, Record<string, string>>)[
    row.queue
  ];
  return names && Object.hasOwn(names, row.type) ? names[row.type] : undefined;
}

/**
 * A notice, CAPTURE or REFUND due now rides in a batch on its first delivery. A timer (deliver_at)
 * keeps its own delayed job. A row that may have gone out before (reclaimed from a relay that died,
 * or retried after a failed publish: attempts > 0) goes alone under its own job id, as it did, so
 * BullMQ still drops it while its first job exists — in a batch led by another member it would not be
 * dropped, and a CAPTURE could run twice at once.
 */
const batchNameOf = (row: OutboxRecord) =>
  row.deliver_at || row.cancel || row.attempts > 0 || row.deliveries > 0 ? undefined : batchKindOf(row);

/**
 * Mailboxes whose relay-delivered messages PostgreSQL de-duplicates (the order records a notice's id
 * in processed_messages; a CAPTURE or REFUND finds its payment or refund settled and the gateway its
 * charge): a completed job need not stay in Redis to stop a repeat, so it is removed at once — fewer
 * commands per job and no completed set to trim. The order mailbox's other messages (timeouts) and
 * the coupon mailbox keep the queue's default.
 */
const removedOnComplete = (row: OutboxRecord) => batchKindOf(row) !== undefined;

function loneJob(row: OutboxRecord, now: number): MessageJob {
  const opts: JobsOptions = { jobId: jobIdOf(row) };
  if (removedOnComplete(row)) opts.removeOnComplete = true;
  if (row.deliver_at) opts.delay = Math.max(0, asDate(row.deliver_at).getTime() - now);
  return { name: row.type, data: row.payload, opts };
}

/**
 * The actor messages of one claim to one mailbox (one queue or order shard), as jobs. Notices,
 * CAPTUREs and REFUNDs due now travel as ONE `…_BATCH` job per kind (split every MAX_MESSAGE_BATCH):
 * a job costs about 45 Redis commands to add, fetch and finish whatever it carries. Members are in
 * the rows' order of creation (uuidv7) and keep their own job ids; the batch's job id is its first
 * member's, so a re-delivery of the same rows is dropped while the job exists (and, removed on
 * completion, applied at most once anyway: each member's own idempotency). A lone row goes as
 * today's job, under its own id.
 */
export function messageJobs(rows: readonly OutboxRecord[], now: number): MessageJob[] {
  const jobs: MessageJob[] = [];
  for (const [name, group] of Map.groupBy(rows, batchNameOf)) {
    if (!name) {
      jobs.push(...group.map((row) => loneJob(row, now)));
      continue;
    }
    // A message written twice (a retried step) is one message, as BullMQ would drop the second job.
    const unique = [...new Map(group.map((row) => [jobIdOf(row), row])).values()].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
    for (let i = 0; i < unique.length; i += MAX_MESSAGE_BATCH) {
      const chunk = unique.slice(i, i + MAX_MESSAGE_BATCH);
      if (chunk.length === 1) {
        jobs.push(loneJob(chunk[0]!, now));
        continue;
      }
      const data: MessageBatch = { members: chunk.map((row) => ({ id: jobIdOf(row), data: row.payload })) };
      jobs.push({ name, data, opts: { jobId: jobIdOf(chunk[0]!), removeOnComplete: true } });
    }
  }
  return jobs;
}
