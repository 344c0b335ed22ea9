import type { JobsOptions } from 'bullmq';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { asDate, query, run, sql } from '../db/sql';
import { isInfrastructureUnavailable } from '../errors/infrastructure-error';
import type { Logger } from '../logger';
import { outboxAlertedTotal } from '../messaging/event-metrics';
import { outboxWakeChannel } from '../messaging/outbox-signal';
import { onChannelMessage, subscribeTo } from '../messaging/pubsub';
import { isQueueName, mailboxFor, type QueueName } from '../messaging/queues';
import { createRedis } from '../messaging/redis';
import { inStoredTraceContext } from '../tracing/tracing';
import { checkAcknowledgements } from './acknowledgements';
import { WakeSignal } from './wake-signal';

const BATCH = 500;
/** A PROCESSING row older than this belongs to a relay that died mid-batch: it is offered again. */
export const RECLAIM_AFTER_S = 30;
const SENT_RETENTION_DAYS = 7;

/**
 * An `events` job rides out a consumer's hiccup or a short outage itself (the capped backoff, 50 ms
 * doubling up to 5 s, so it runs again within seconds of an outage's end; OUTBOX_EVENT_JOB_ATTEMPTS,
 * 20 ≈ 70 s by default). Past that it fails, and the acknowledgement check (./acknowledgements.ts)
 * delivers the events its consumers did not acknowledge again, with the outbox row's backoff and
 * attempt budget: PostgreSQL, not the job, keeps an event from being lost.
 */
export const eventJobOptions = (attempts: number) => ({ attempts, backoff: { type: 'capped' } }) as const;

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
 * (workers/events.worker.ts).
 */
export type ExpectedAcknowledgements = (events: unknown[]) => Promise<string[][]>;

/**
 * Delivers committed outbox rows to Redis, at least once. Any number of relays may run: each claims
 * due rows with FOR UPDATE SKIP LOCKED, marks them PROCESSING, publishes them (job id = the row's job
 * id or its own id, so a repeat is deduplicated by BullMQ) and marks them SENT. A row that cannot be
 * published backs off exponentially and, after OUTBOX_MAX_ATTEMPTS, is ALERTED for an operator.
 * Redis being down is not the row's fault: then nothing is counted and the relay waits.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wake = new WakeSignal();
  private readonly subscriber;

  constructor(
    private readonly ctx: AppContext,
    private readonly log: Logger,
    private readonly acknowledgers: ExpectedAcknowledgements = async (events) => events.map(() => []),
  ) {
    this.subscriber = createRedis(ctx.config, 'subscriber', `${ctx.config.redisPrefix}:outbox-relay`);
    subscribeTo(this.subscriber, outboxWakeChannel(ctx.config.redisPrefix)).catch(() => undefined);
    onChannelMessage(this.subscriber, () => this.wake.signal());
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake.signal();
    await this.loop;
    this.subscriber.disconnect();
  }

  private async run(): Promise<void> {
    let lastHousekeeping = 0;
    let lastAckCheck = Date.now();
    // A quarter of the deadline: an unacknowledged event is found at most ~1.25 deadlines after delivery.
    const ackCheckEvery = Math.min(5000, Math.max(100, this.ctx.config.outboxAckDeadlineMs / 4));
    while (this.running) {
      let delivered = 0;
      let pause = this.ctx.config.outboxPollIntervalMs;
      // Rows committed before this point are found by the claim below; later ones wake the next round.
      this.wake.clear();
      try {
        if (Date.now() - lastHousekeeping > 5000) {
          await this.housekeeping();
          lastHousekeeping = Date.now();
        }
        if (Date.now() - lastAckCheck > ackCheckEvery) {
          const pass = await checkAcknowledgements(this.ctx, this.log);
          // After a large loss (a Redis restart under load) the next batch is checked at once.
          lastAckCheck = pass.more ? 0 : Date.now();
        }
        delivered = await this.deliverBatch();
      } catch (error) {
        this.log.warn({ err: String(error) }, 'outbox relay cannot reach a dependency; waiting');
        pause = 1000;
        this.wake.clear();
      }
      if (delivered < BATCH && this.running) await this.wake.sleep(pause);
    }
  }

  /** Claims, publishes and settles one batch; returns how many rows it handled. */
  async deliverBatch(): Promise<number> {
    const rows = await this.claim();
    if (rows.length === 0) return 0;
    try {
      await this.markSent(await publish(this.ctx, rows, this.acknowledgers));
    } catch (error) {
      if (isInfrastructureUnavailable(error)) {
        await this.release(rows);
        throw error;
      }
      await this.publishOneByOne(rows);
    }
    return rows.length;
  }

  private async claim(): Promise<OutboxRecord[]> {
    return query<OutboxRecord>(
      this.ctx.orm.em.fork(),
      sql`update outbox_events set status = 'PROCESSING', claimed_at = now()
          where id in (select id from outbox_events
                       where status in ('PENDING', 'FAILED') and next_attempt_at <= now()
                       order by next_attempt_at limit ${BATCH} for update skip locked)
          returning id, aggregate_type, aggregate_id, type, payload, queue, job_id, deliver_at, cancel, attempts,
                    deliveries, created_at, trace_context`,
    );
  }

  /** After an unexplained batch failure: find the rows that really fail, count attempts only for them. */
  private async publishOneByOne(rows: OutboxRecord[]): Promise<void> {
    for (const row of rows) {
      try {
        await this.markSent(await publish(this.ctx, [row], this.acknowledgers));
      } catch (error) {
        if (isInfrastructureUnavailable(error)) {
          await this.release([row]);
          throw error;
        }
        await this.markFailed(row, error);
      }
    }
  }

  /** One statement for the batch, whatever it carried: the acknowledgement needs no extra round trip. */
  private async markSent(delivered: Delivered[]): Promise<void> {
    await run(
      this.ctx.orm.em.fork(),
      sql`update outbox_events o
          set status = 'SENT', sent_at = now(), claimed_at = null, deliveries = o.deliveries + 1,
              job_id = coalesce(t.job_id, o.job_id),
              consumers = case when t.consumers is null then null else string_to_array(t.consumers, ',') end
          from unnest(${delivered.map((d) => d.id)}::uuid[], ${delivered.map((d) => d.jobId)}::text[],
                      ${delivered.map((d) => d.consumers?.join(',') ?? null)}::text[]) as t(id, job_id, consumers)
          where o.id = t.id`,
    );
  }

  /** Back to the queue of due rows without counting an attempt (the dependency was down). */
  private async release(rows: OutboxRecord[]): Promise<void> {
    await run(
      this.ctx.orm.em.fork(),
      sql`update outbox_events set status = 'PENDING', claimed_at = null, next_attempt_at = now() + interval '1 second'
          where id = any(${rows.map((r) => r.id)}::uuid[]) and status = 'PROCESSING'`,
    );
  }

  private async markFailed(row: OutboxRecord, error: unknown): Promise<void> {
    const attempts = row.attempts + 1;
    const alerted = attempts >= this.ctx.config.outboxMaxAttempts;
    const backoffMs = Math.min(2 ** attempts * 500, 10 * 60_000);
    await run(
      this.ctx.orm.em.fork(),
      sql`update outbox_events set status = ${alerted ? 'ALERTED' : 'FAILED'}, attempts = ${attempts},
                 claimed_at = null, last_error = ${String(error).slice(0, 2000)},
                 next_attempt_at = now() + ${`${backoffMs} milliseconds`}::interval
          where id = ${row.id}`,
    );
    const details = { outboxId: row.id, type: row.type, queue: row.queue, attempts, err: String(error) };
    if (alerted) {
      outboxAlertedTotal.inc({ queue: row.queue });
      this.log.error(details, 'outbox event ALERTED: delivery keeps failing, an operator must look');
    } else this.log.warn(details, 'outbox event delivery failed; will retry');
  }

  /**
   * Reclaims rows of relays that died mid-batch and trims old SENT rows. A reclaim counts as an
   * attempt: a row that kills every relay that takes it must end ALERTED, not loop forever.
   */
  private async housekeeping(): Promise<void> {
    const em = this.ctx.orm.em.fork();
    const max = this.ctx.config.outboxMaxAttempts;
    const reclaimed = await query<Row<'outbox_events', 'id' | 'type' | 'queue' | 'status' | 'attempts'>>(
      em,
      sql`update outbox_events
          set status = case when attempts + 1 >= ${max} then 'ALERTED' else 'PENDING' end,
              attempts = attempts + 1, claimed_at = null, next_attempt_at = now(),
              last_error = 'abandoned while PROCESSING by a relay that stopped (reclaimed)'
          where status = 'PROCESSING' and claimed_at < now() - ${`${RECLAIM_AFTER_S} seconds`}::interval
          returning id, type, queue, status, attempts`,
    );
    if (reclaimed.length > 0) {
      this.log.warn({ reclaimed: reclaimed.length }, 'reclaimed outbox rows abandoned by a dead relay');
    }
    for (const row of reclaimed.filter((r) => r.status === 'ALERTED')) {
      outboxAlertedTotal.inc({ queue: row.queue });
      this.log.error(
        { outboxId: row.id, type: row.type, queue: row.queue, attempts: row.attempts },
        'outbox event ALERTED: relays kept dying while delivering it, an operator must look',
      );
    }
    await run(
      em,
      sql`delete from outbox_events where id in (
            select id from outbox_events where status = 'SENT'
              and sent_at < now() - ${`${SENT_RETENTION_DAYS} days`}::interval limit 1000)`,
    );
    // Processed-message ids only need to outlive the redeliveries they guard against (hours at most).
    await run(
      em,
      sql`delete from processed_messages where (consumer, message_id) in (
            select consumer, message_id from processed_messages
            where processed_at < now() - ${`${SENT_RETENTION_DAYS} days`}::interval limit 5000)`,
    );
  }
}

/**
 * Rows written by one transaction share its trace context: each group is published in a span of that
 * trace, so the jobs it enqueues continue it (with tracing off there is one group and no span).
 */
async function publish(
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
 * Domain events become `events` jobs named by their type; actor messages carry their own payload.
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
      await queue.addBulk(
        adds.map((row) => {
          const opts: JobsOptions = { jobId: row.job_id ?? row.id };
          if (row.deliver_at) opts.delay = Math.max(0, asDate(row.deliver_at).getTime() - now);
          return { name: row.type, data: row.payload, opts };
        }),
      );
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
