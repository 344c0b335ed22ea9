import type { Job } from 'bullmq';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { asDate, preparedStatement, query, run, sql } from '../db/sql';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import { webhookAttemptsTotal } from '../messaging/event-metrics';
import type { WebhookBatchJob, WebhookDeliveryJob } from '../messaging/messages';
import { countFailedAttempt, holdEvents, scheduleProbe } from './circuit-breaker';
import type { PostResult } from './post-signed';
import { delivered, loadEndpoint, postEvent, record } from './webhook-delivery';
import { webhookJobId, webhookJobOptions } from './webhook-jobs';

type WebhookEvent = WebhookDeliveryJob['event'];

/**
 * The first attempt at each event of a WEBHOOK_BATCH job (webhooks.consumer.ts): one signed POST per
 * event, in their order, the delivered ones recorded together in one statement. An event whose POST
 * fails is handed over to an ordinary delivery job of its own (its usual id, the attempts left, the
 * first backoff), so it is retried exactly as a lone delivery would be and its neighbours are not sent
 * again. An endpoint removed, disabled or paused meanwhile is treated as for a lone delivery, for every
 * event the batch still holds. A re-run (a crash, a failed write) skips events with an attempt on record.
 */
export async function deliverWebhookBatch(ctx: AppContext, job: Job, batch: WebhookBatchJob, log: Logger) {
  const { webhookId } = batch;
  const events = job.attemptsStarted > 1 ? await notYetAttempted(ctx, webhookId, batch.events) : batch.events;
  if (events.length === 0) return 'delivered';
  const endpoint = await loadEndpoint(ctx.orm.em.fork(), webhookId);
  if (!endpoint?.usable) {
    const gone = { statusCode: null, error: 'endpoint removed or disabled', durationMs: 0 };
    if (endpoint) for (const event of events) await record(ctx, { webhookId, event }, 1, 'ABANDONED', gone);
    return 'abandoned';
  }
  if (endpoint.paused_until) return holdAll(ctx, webhookId, events, asDate(endpoint.paused_until));
  let sent: { event: WebhookEvent; result: PostResult }[] = [];
  for (const [i, event] of events.entries()) {
    const result = await postEvent(ctx, endpoint, event);
    if (delivered(result)) {
      sent.push({ event, result });
      continue;
    }
    // What went before is recorded first: the endpoint's failure count follows the order of the POSTs.
    await recordDelivered(ctx, webhookId, sent);
    sent = [];
    const failed = { ...result, error: result.error ?? `HTTP ${result.statusCode}` };
    const pausedUntil = await countFailedAttempt(ctx.orm.em.fork(), ctx, webhookId);
    if (pausedUntil) {
      // Held before the attempt is recorded: a re-run skips recorded events, so none is left out.
      await holdAll(ctx, webhookId, events.slice(i), pausedUntil);
      await record(ctx, { webhookId, event }, 1, 'RETRYING', failed);
      log.warn({ webhookId, url: endpoint.url, pausedUntil }, 'webhook endpoint keeps failing: paused');
      return 'held';
    }
    await handOver(ctx, webhookId, event, failed, endpoint.url, log);
  }
  await recordDelivered(ctx, webhookId, sent);
  return 'delivered';
}

/** A failed first attempt: retried by a delivery job of its own (added before the attempt is recorded). */
async function handOver(
  ctx: AppContext,
  webhookId: string,
  event: WebhookEvent,
  failed: PostResult & { error: string },
  url: string,
  log: Logger,
) {
  if (ctx.config.webhookMaxAttempts > 1) {
    await ctx.queues.webhooks.add(
      event.type,
      { webhookId, event, attemptsBefore: 1 } satisfies WebhookDeliveryJob,
      webhookJobOptions(ctx, webhookJobId(event.id, webhookId), 1),
    );
    await record(ctx, { webhookId, event }, 1, 'RETRYING', failed);
    return;
  }
  const disabled = await record(ctx, { webhookId, event }, 1, 'ALERTED', failed);
  log.error(
    { webhookId, eventId: event.id, attempts: 1, failure: failed.error, url },
    'webhook delivery ALERTED: every attempt failed',
  );
  if (disabled) log.error({ webhookId, url }, 'webhook endpoint disabled after repeated failures');
}

async function holdAll(ctx: AppContext, webhookId: string, events: WebhookEvent[], pausedUntil: Date) {
  await holdEvents(
    ctx.orm.em.fork(),
    events.map((event) => ({ webhookId, event })),
  );
  await scheduleProbe(ctx, webhookId, pausedUntil);
  return 'held';
}

/** First attempts that reached the endpoint, and its failure counts reset: one statement. */
async function recordDelivered(
  ctx: AppContext,
  webhookId: string,
  sent: { event: WebhookEvent; result: PostResult }[],
): Promise<void> {
  if (sent.length === 0) return;
  webhookAttemptsTotal.inc({ outcome: 'DELIVERED' }, sent.length);
  await run(
    ctx.orm.em.fork(),
    preparedStatement(sql`with attempts as (
          insert into webhook_deliveries (id, webhook_id, event_id, event_type, attempt, status_code, error,
                                          duration_ms, outcome, at)
          select t.id, ${webhookId}, t.event_id, t.event_type, 1, t.status_code, null, t.duration_ms, 'DELIVERED', now()
          from unnest(${sent.map(() => uuidv7())}::uuid[], ${sent.map((s) => s.event.id)}::text[],
                      ${sent.map((s) => s.event.type)}::text[], ${sent.map((s) => s.result.statusCode)}::int[],
                      ${sent.map((s) => s.result.durationMs)}::int[])
            as t(id, event_id, event_type, status_code, duration_ms))
        update webhooks set consecutive_failures = 0, failure_streak = 0
        where id = ${webhookId} and (consecutive_failures > 0 or failure_streak > 0)`),
  );
}

async function notYetAttempted(ctx: AppContext, webhookId: string, events: WebhookEvent[]) {
  const rows = await query<Row<'webhook_deliveries', 'event_id'>>(
    ctx.orm.em.fork(),
    sql`select distinct event_id from webhook_deliveries
        where webhook_id = ${webhookId} and event_id = any(${events.map((e) => e.id)}::text[])`,
  );
  const attempted = new Set(rows.map((r) => r.event_id));
  return events.filter((e) => !attempted.has(e.id));
}
