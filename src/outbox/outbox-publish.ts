import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { asDate } from '../db/sql';
import { isQueueName, mailboxFor, type QueueName } from '../messaging/queues';
import { inStoredTraceContext } from '../tracing/tracing';
import { messageJobs } from './message-jobs';

/** A claimed row: `deliveries` counts earlier deliveries (a re-delivery's job id carries it). */
export type OutboxRecord = Row<
  'outbox_events',
  | 'id'
  | 'aggregate_type'
  | 'aggregate_id'
  | 'type'
  | 'payload'
  | 'job_id'
  | 'deliver_at'
  | 'cancel'
  | 'attempts'
  | 'deliveries'
  | 'created_at'
  | 'trace_context'
> & { queue: QueueName };

/** What one delivery of a row left behind: its job's id and, for a domain event, who must acknowledge it. */
export interface Delivered {
  id: string;
  jobId: string | null;
  consumers: string[] | null;
}

/**
 * For each domain event (as the relay sends it: `{id, type, aggregateType, aggregateId, occurredAt,
 * data}`), the consumers that must acknowledge it (record it in processed_messages): decided in memory
 * when the relay delivers it, so it costs no round trip. Given by whoever knows the consumers
 * (src/events/event-consumers.ts).
 */
export type ExpectedAcknowledgements = (events: unknown[]) => Promise<string[][]>;

/**
 * An `events` job rides out a consumer's hiccup or a short outage itself (the capped backoff, 50 ms
 * doubling up to 5 s, so it runs again within seconds of an outage's end; OUTBOX_EVENT_JOB_ATTEMPTS,
 * 20 ≈ 70 s by default). Past that it fails, and the acknowledgement check (./acknowledgements.ts)
 * delivers the events its consumers did not acknowledge again, with the outbox row's backoff and
 * attempt budget: PostgreSQL, not the job, keeps an event from being lost. Consumers apply an event at
 * most once by its id, so a completed job is removed at once (no completed set to keep and trim).
 */
export const eventJobOptions = (attempts: number) =>
  ({ attempts, backoff: { type: 'capped' }, removeOnComplete: true }) as const;

/**
 * Rows written by one transaction share its trace context: each group is published in a span of that
 * trace, so the jobs it enqueues continue it (with tracing off there is one group and no span).
 */
export async function publish(
  ctx: AppContext,
  rows: OutboxRecord[],
  acknowledgers: ExpectedAcknowledgements,
): Promise<Delivered[]> {
  const byTrace = Map.groupBy(rows, (row) => row.trace_context);
  const delivered = await Promise.all(
    [...byTrace].map(([traceContext, group]) =>
      inStoredTraceContext(traceContext, 'outbox relay', { 'shop.outbox.rows': group.length }, () =>
        publishRows(ctx, group, acknowledgers),
      ),
    ),
  );
  return delivered.flat();
}

/**
 * Domain events become `events` jobs named by their type; actor messages carry their own payload
 * (notices, CAPTUREs and REFUNDs of one mailbox together: ./message-jobs.ts).
 * Returns, per row, the job it went out as and (domain events) the consumers that must acknowledge it.
 */
async function publishRows(
  ctx: AppContext,
  rows: OutboxRecord[],
  acknowledgers: ExpectedAcknowledgements,
): Promise<Delivered[]> {
  for (const row of rows)
    if (!isQueueName(row.queue)) throw new Error(`outbox row names an unknown queue '${row.queue}'`);
  // A row of the order mailbox goes to its order's shard (a cancellation, whose payload is empty,
  // by its aggregate: the order).
  const byQueue = Map.groupBy(rows, (row) =>
    mailboxFor(
      ctx.queues,
      row.queue,
      { ...row.payload, orderId: row.payload.orderId ?? row.aggregate_id },
      row.job_id ?? row.id,
    ),
  );
  const now = Date.now();
  const delivered: Delivered[] = [];
  await Promise.all(
    [...byQueue].map(async ([queue, list]) => {
      const name = list[0]!.queue;
      // Withdrawals of delayed jobs: written by nothing since timers became time buckets; kept for
      // rows written before, until they are trimmed.
      for (const row of list.filter((r) => r.cancel)) {
        await queue.remove(row.job_id!);
        delivered.push({ id: row.id, jobId: null, consumers: null });
      }
      const adds = list.filter((r) => !r.cancel);
      if (adds.length === 0) return;
      if (name === 'events') {
        const expected = await acknowledgers(adds.map(domainEvent));
        const jobs = eventJobs(adds, ctx.config.outboxEventJobAttempts);
        await queue.addBulk(jobs);
        const jobOf = new Map(jobs.flatMap((job) => job.data.events.map((e) => [e.id, job.opts.jobId])));
        for (const [i, row] of adds.entries())
          delivered.push({ id: row.id, jobId: jobOf.get(row.id) ?? null, consumers: expected[i]! });
        return;
      }
      await queue.addBulk(messageJobs(adds, now));
      for (const row of adds) delivered.push({ id: row.id, jobId: null, consumers: null });
    }),
  );
  return delivered;
}

/** At most this many events ride in one `events` job. */
export const EVENTS_PER_JOB = 100;

/**
 * The domain events of one claim travel as ONE `events` job (split every EVENTS_PER_JOB): a job costs
 * a BullMQ round trip to add, to fetch and to finish, whatever it carries, and a placement batch's
 * events are claimed together. The job id is its first event's id, so a re-delivery of the same rows
 * is deduplicated while the job exists; consumers apply each event at most once by its own id anyway,
 * whichever job it arrives in.
 */
function eventJobs(rows: OutboxRecord[], attempts: number) {
  const jobs: OutboxRecord[][] = [];
  for (let i = 0; i < rows.length; i += EVENTS_PER_JOB) jobs.push(rows.slice(i, i + EVENTS_PER_JOB));
  return jobs.map((group) => ({
    name: [...new Set(group.map((row) => row.type))].join('+'),
    data: { events: group.map(domainEvent) },
    opts: { ...eventJobOptions(attempts), jobId: eventJobId(group[0]!) },
  }));
}

/**
 * The first delivery of a group is known by its first event's id (a relay that died before marking
 * it SENT re-adds the same job, which BullMQ ignores); a re-delivery carries the delivery count, so a
 * kept completed or failed job of an earlier delivery does not swallow it.
 */
function eventJobId(first: OutboxRecord): string {
  return first.deliveries > 0 ? `${first.id}-d${first.deliveries}` : first.id;
}

function domainEvent(row: OutboxRecord) {
  return {
    id: row.id,
    type: row.type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    occurredAt: asDate(row.created_at).toISOString(),
    data: row.payload,
  };
}
