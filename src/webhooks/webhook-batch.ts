import type { Job } from 'bullmq';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { asDate, query, sql } from '../db/sql';
import type { Logger } from '../logger';
import type { WebhookBatchJob, WebhookDeliveryJob } from '../messaging/messages';
import { countFailedAttempt } from './circuit-breaker';
import type { PostResult } from './post-signed';
import {
  alert,
  delivered,
  ENDPOINT_GONE,
  hold,
  loadEndpoint,
  postEvent,
  record,
  recordDelivered,
} from './webhook-delivery';
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
    if (endpoint)
      for (const event of events) await record(ctx, { webhookId, event }, 1, 'ABANDONED', ENDPOINT_GONE);
    return 'abandoned';
  }
  if (endpoint.paused_until) return hold(ctx, webhookId, events, asDate(endpoint.paused_until));
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
      await hold(ctx, webhookId, events.slice(i), pausedUntil);
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
  await alert(ctx, { webhookId, event }, 1, failed, url, log);
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
