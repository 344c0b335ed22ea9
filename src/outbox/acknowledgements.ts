import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { findRowsByIndex } from '../db/planner';
import { asDate, query, run, sql } from '../db/sql';
import type { Logger } from '../logger';
import { outboxAlertedTotal } from '../messaging/event-metrics';
import type { WebhookDeliveryJob } from '../messaging/messages';
import { webhookBatchJobId, webhookJobId, webhookJobOptions } from '../webhooks/webhook-jobs';

/** Unacknowledged events handled per pass; the watermark stops at the last one when there are more. */
const BATCH = 1000;
/** Rows are re-checked this far behind the watermark: a SENT mark may commit after its `sent_at`. */
const OVERLAP = '5 seconds';
/** BullMQ states in which an events job will still run: its event is on its way, not lost. */
const ALIVE = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

type Unacknowledged = Row<'outbox_events', 'id' | 'type' | 'job_id' | 'created_at' | 'payload'> & {
  /** Only sent rows are checked. */
  sent_at: Date | string;
  /** Consumers that have not recorded the event (null: all have). */
  missing: string[] | null;
  /** Endpoints whose delivery of it has no outcome yet, though the webhooks consumer fanned it out. */
  undelivered: string[] | null;
};

export interface AcknowledgementPass {
  checked: boolean;
  /** The pass stopped at its batch size: more unacknowledged events wait (run it again at once). */
  more: boolean;
  redelivered: number;
  alerted: number;
  stillQueued: number;
}

/**
 * Delivery acknowledged by consumers. A domain event is done when every consumer the relay named in
 * its `consumers` column has recorded it in processed_messages (in the transaction that applied it).
 * A pass looks, in one query, at events delivered since the last pass and at least
 * OUTBOX_ACK_DEADLINE_MS ago that still lack an acknowledgement, and:
 * - leaves alone (re-arming the deadline) those whose job is still queued or retrying in Redis;
 * - otherwise (the job was lost with Redis, or finished without every consumer applying the event)
 *   puts them back to FAILED with backoff, so the relay delivers them again under a new job id;
 *   after OUTBOX_MAX_ATTEMPTS they are ALERTED, and POST /admin/outbox/{id}/retry re-queues them.
 * Webhooks too: an event the webhooks consumer fanned out whose delivery to an endpoint has no
 * outcome yet is checked again later, and its delivery job added again if Redis lost it.
 * Healthy events cost nothing here but their share of that query: no write, no Redis call per event.
 * Any number of relays may run it; the watermark row's lock lets one of them work at a time.
 */
export async function checkAcknowledgements(ctx: AppContext, log: Logger): Promise<AcknowledgementPass> {
  const idle = { checked: false, more: false, redelivered: 0, alerted: 0, stillQueued: 0 };
  return ctx.orm.em.fork().transactional(async (tx: EntityManager) => {
    const deadline = `${ctx.config.outboxAckDeadlineMs} milliseconds`;
    const [mark] = await query<Row<'outbox_ack_watermark', 'checked_until'> & { up_to: Date | string }>(
      tx,
      sql`select checked_until, now() - ${deadline}::interval as up_to from outbox_ack_watermark where id = 1
          for update skip locked`,
    );
    if (!mark) return idle;
    // Each event's consumers and deliveries by their keys: with young statistics the planner read
    // processed_messages whole once per event (1.3 s per pass after 15 s of checkouts).
    await findRowsByIndex(tx);
    const rows = await query(tx, unacknowledgedEvents(mark.checked_until, mark.up_to));
    const checkedUntil = rows.length === BATCH ? rows[rows.length - 1]!.sent_at : mark.up_to;
    await run(
      tx,
      sql`update outbox_ack_watermark set checked_until = ${checkedUntil}::timestamptz where id = 1`,
    );
    if (rows.length === 0) return { ...idle, checked: true };

    const unapplied = rows.filter((r) => r.missing !== null);
    const queued = await stillQueued(ctx, unapplied);
    const lost = unapplied.filter((r) => !queued.has(r.id));
    // Still on their way (their events job, or their webhook deliveries): checked again later.
    const waiting = [...unapplied.filter((r) => queued.has(r.id)), ...rows.filter((r) => r.missing === null)];
    const resent = await resendLostWebhooks(
      ctx,
      rows.filter((r) => r.missing === null),
    );
    if (resent > 0) log.warn({ resent }, 'webhook deliveries lost with Redis; sent again');
    if (waiting.length > 0) {
      await run(
        tx,
        sql`update outbox_events set sent_at = now() where id = any(${waiting.map((r) => r.id)}::uuid[]) and status = 'SENT'`,
      );
    }
    const redelivered = lost.length > 0 ? await redeliver(ctx, tx, lost) : [];
    const alerted = redelivered.filter((r) => r.status === 'ALERTED');
    for (const row of alerted) {
      outboxAlertedTotal.inc({ queue: 'events' });
      log.error(
        { outboxId: row.id, type: row.type, attempts: row.attempts, err: row.last_error },
        'outbox event ALERTED: consumers never acknowledged it, an operator must look',
      );
    }
    if (redelivered.length > 0) {
      log.warn(
        { redelivered: redelivered.length, alerted: alerted.length },
        'delivered events not acknowledged by their consumers; delivering them again',
      );
    }
    return {
      checked: true,
      redelivered: redelivered.length,
      alerted: alerted.length,
      stillQueued: waiting.length,
      more: rows.length === BATCH,
    };
  });
}

/**
 * Sent domain events in (checkedUntil − OVERLAP, upTo] that some consumer has not recorded, or that
 * the webhooks consumer fanned out to an endpoint without an outcome yet: at most BATCH, oldest first.
 */
export function unacknowledgedEvents(checkedUntil: Date | string, upTo: Date | string) {
  return sql<Unacknowledged>`select e.id, e.type, e.job_id, e.sent_at, e.created_at, e.payload, m.missing, wh.undelivered
      from outbox_events e
      cross join lateral (
        select array_agg(c.name) as missing from unnest(e.consumers) as c(name)
        where not exists (select 1 from processed_messages p where p.consumer = c.name and p.message_id = e.id::text)
          -- an endpoint removed since delivery no longer waits for its webhook
          and (c.name <> 'webhooks' or exists (
            select 1 from webhooks w where w.active and w.deleted_at is null
              and (e.type = any(w.events) or '*' = any(w.events))))) m
      cross join lateral (
        -- fanned out, but a delivery job of it has neither an outcome nor a place in a paused endpoint's backlog
        select array_agg(w.id::text) as undelivered from webhooks w
        where 'webhooks' = any(e.consumers) and e.created_at > now() - interval '1 hour'
          and w.active and w.deleted_at is null and w.created_at <= e.created_at
          and (e.type = any(w.events) or '*' = any(w.events))
          and exists (select 1 from processed_messages p where p.consumer = 'webhooks' and p.message_id = e.id::text)
          and not exists (select 1 from webhook_deliveries d where d.webhook_id = w.id and d.event_id = e.id::text
                            and d.outcome in ('DELIVERED', 'ALERTED', 'ABANDONED'))
          and not exists (select 1 from webhook_backlog b where b.webhook_id = w.id and b.event_id = e.id::text)) wh
      where e.status = 'SENT' and e.queue = 'events' and (m.missing is not null or wh.undelivered is not null)
        and e.sent_at > ${checkedUntil}::timestamptz - ${OVERLAP}::interval
        and e.sent_at <= ${upTo}::timestamptz
      order by e.sent_at limit ${BATCH}`;
}

/**
 * Webhook deliveries the consumer fanned out but Redis lost (no job under the delivery's id any more,
 * nor a batch of its events job that could still make its first attempt, and no recorded outcome):
 * added again under the delivery's id. Returns how many.
 */
async function resendLostWebhooks(ctx: AppContext, rows: Unacknowledged[]): Promise<number> {
  const pairs = rows.flatMap((r) => (r.undelivered ?? []).map((webhookId) => ({ row: r, webhookId })));
  if (pairs.length === 0) return 0;
  const webhooks = ctx.queues.webhooks;
  const states = await Promise.all(
    pairs.map(async ({ row, webhookId }) => {
      const alone = await webhooks.getJobState(webhookJobId(row.id, webhookId));
      if (alone !== 'unknown' || !row.job_id) return alone;
      // A batch that failed for good made no attempt at the events it had not reached: they are lost too.
      const batch = await webhooks.getJobState(webhookBatchJobId(row.job_id, webhookId));
      return batch === 'failed' ? 'unknown' : batch;
    }),
  );
  const lost = pairs.filter((_, i) => states[i] === 'unknown');
  if (lost.length === 0) return 0;
  await ctx.queues.webhooks.addBulk(
    lost.map(({ row, webhookId }) => {
      const event = {
        id: row.id,
        type: row.type,
        occurredAt: asDate(row.created_at).toISOString(),
        data: row.payload,
      };
      return {
        name: row.type,
        data: { webhookId, event } satisfies WebhookDeliveryJob,
        opts: webhookJobOptions(ctx, webhookJobId(row.id, webhookId)),
      };
    }),
  );
  return lost.length;
}

/** The rows whose events job still waits, runs or retries in Redis (one call per distinct job). */
async function stillQueued(ctx: AppContext, rows: Unacknowledged[]): Promise<Set<string>> {
  const jobIds = [...new Set(rows.flatMap((r) => (r.job_id ? [r.job_id] : [])))];
  const states = await Promise.all(jobIds.map((id) => ctx.queues.events.getJobState(id)));
  const alive = new Set(jobIds.filter((_, i) => ALIVE.has(states[i]!)));
  return new Set(rows.filter((r) => r.job_id && alive.has(r.job_id)).map((r) => r.id));
}

async function redeliver(ctx: AppContext, tx: EntityManager, rows: Unacknowledged[]) {
  const max = ctx.config.outboxMaxAttempts;
  return query<Row<'outbox_events', 'id' | 'type' | 'status' | 'attempts'> & { last_error: string }>(
    tx,
    sql`update outbox_events o
        set status = case when o.attempts + 1 >= ${max} then 'ALERTED' else 'FAILED' end,
            attempts = o.attempts + 1,
            next_attempt_at = now() + least(power(2, o.attempts + 1) * 500, 600000) * interval '1 millisecond',
            last_error = ${`not acknowledged within ${ctx.config.outboxAckDeadlineMs} ms of delivery by: `} || t.missing
        from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => (r.missing ?? []).join(', '))}::text[])
          as t(id, missing)
        where o.id = t.id and o.status = 'SENT'
        returning o.id, o.type, o.status, o.attempts, o.last_error`,
  );
}
