import type { EntityManager } from '@mikro-orm/postgresql';
import { type Job, UnrecoverableError } from 'bullmq';
import type { AppContext } from '../context';
import { db } from '../db/database';
import type { DeliveryOutcome } from '../db/schema/webhook-delivery.entity';
import { asDate, preparedStatement, query, run, sql } from '../db/sql';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import { webhookAttemptsTotal } from '../messaging/event-metrics';
import type { WebhookDeliveryJob } from '../messaging/messages';
import { countFailedAttempt, holdEvents, scheduleProbe } from './circuit-breaker';
import { type PostResult, postSignedEvent } from './post-signed';

export function loadEndpoint(em: EntityManager, id: string) {
  return db(em)
    .selectFrom('webhooks')
    .select(['url', 'secret', sql<boolean>`(active and deleted_at is null)`.as('usable'), 'paused_until'])
    .where('id', '=', id)
    .executeTakeFirst();
}

type WebhookEvent = WebhookDeliveryJob['event'];

/** The endpoint's circuit is open: the events join its backlog and the job ends (no attempt spent). */
export async function hold(ctx: AppContext, webhookId: string, events: WebhookEvent[], pausedUntil: Date) {
  await holdEvents(
    ctx.orm.em.fork(),
    events.map((event) => ({ webhookId, event })),
  );
  await scheduleProbe(ctx, webhookId, pausedUntil);
  return 'held';
}

/** What an attempt at an endpoint removed or disabled meanwhile is recorded with. */
export const ENDPOINT_GONE: PostResult = {
  statusCode: null,
  error: 'endpoint removed or disabled',
  durationMs: 0,
};

export const delivered = (r: PostResult) =>
  r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;

/**
 * Delivers one event to one endpoint, one attempt per run: a 2xx within WEBHOOK_TIMEOUT_MS is
 * delivered; anything else is recorded and thrown, so BullMQ retries with exponential backoff. After
 * the last attempt the delivery is ALERTED (error log) and counts against the endpoint; a success
 * resets that count. Receivers may see an event twice (a worker dying after the POST): they
 * deduplicate by the event's `id` (docs/webhooks.md).
 */
export async function deliverWebhook(ctx: AppContext, job: Job, delivery: WebhookDeliveryJob, log: Logger) {
  const { webhookId, event } = delivery;
  // A delivery a batch handed over counts the batch's attempt too (its job has that many fewer).
  const attempt = (delivery.attemptsBefore ?? 0) + job.attemptsMade + 1;
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const endpoint = await loadEndpoint(ctx.orm.em.fork(), webhookId);
  if (!endpoint?.usable) {
    if (endpoint) await record(ctx, delivery, attempt, 'ABANDONED', ENDPOINT_GONE);
    return 'abandoned';
  }
  if (endpoint.paused_until) return hold(ctx, webhookId, [event], asDate(endpoint.paused_until));
  const result = await postEvent(ctx, endpoint, event);
  if (delivered(result)) {
    await record(ctx, delivery, attempt, 'DELIVERED', result);
    return 'delivered';
  }
  const failure = result.error ?? `HTTP ${result.statusCode}`;
  const pausedUntil = await countFailedAttempt(ctx.orm.em.fork(), ctx, webhookId);
  if (pausedUntil) {
    await record(ctx, delivery, attempt, 'RETRYING', { ...result, error: failure });
    log.warn({ webhookId, url: endpoint.url, pausedUntil }, 'webhook endpoint keeps failing: paused');
    return hold(ctx, webhookId, [event], pausedUntil);
  }
  if (!lastAttempt) {
    await record(ctx, delivery, attempt, 'RETRYING', { ...result, error: failure });
    throw new Error(`webhook delivery failed (${failure}); attempt ${attempt} will be retried`);
  }
  await alert(ctx, delivery, attempt, { ...result, error: failure }, endpoint.url, log);
  throw new UnrecoverableError(`webhook delivery failed after ${attempt} attempts (${failure})`);
}

/** The last attempt failed: the delivery is ALERTED, counts against the endpoint, and is logged. */
export async function alert(
  ctx: AppContext,
  delivery: WebhookDeliveryJob,
  attempt: number,
  failed: PostResult & { error: string },
  url: string,
  log: Logger,
): Promise<void> {
  const { webhookId, event } = delivery;
  const disabled = await record(ctx, delivery, attempt, 'ALERTED', failed);
  log.error(
    { webhookId, eventId: event.id, attempts: attempt, failure: failed.error, url },
    'webhook delivery ALERTED: every attempt failed',
  );
  if (disabled) log.error({ webhookId, url }, 'webhook endpoint disabled after repeated failures');
}

/** One signed POST of one event to the endpoint. */
export function postEvent(
  ctx: AppContext,
  endpoint: { url: string; secret: string },
  event: WebhookDeliveryJob['event'],
): Promise<PostResult> {
  return postSignedEvent({
    url: endpoint.url,
    secret: endpoint.secret,
    eventType: event.type,
    rawBody: JSON.stringify(event),
    timeoutMs: ctx.config.webhookTimeoutMs,
    publicOnly: ctx.config.isProduction,
  });
}

/**
 * Records the attempt and, in the same transaction, the endpoint's consecutive-failure count (reset by
 * a delivery, raised by an ALERTED one, disabling it at WEBHOOK_DISABLE_AFTER). True if this disabled it.
 */
export async function record(
  ctx: AppContext,
  delivery: WebhookDeliveryJob,
  attempt: number,
  outcome: DeliveryOutcome,
  result: PostResult,
): Promise<boolean> {
  const { webhookId, event } = delivery;
  if (outcome === 'DELIVERED') {
    await recordDelivered(ctx, webhookId, [{ event, result }], attempt);
    return false;
  }
  webhookAttemptsTotal.inc({ outcome });
  const disableAfter = ctx.config.webhookDisableAfter;
  const attemptRow = sql`insert into webhook_deliveries (id, webhook_id, event_id, event_type, attempt, status_code,
                                          error, duration_ms, outcome, at)
          values (${uuidv7()}, ${webhookId}, ${event.id}, ${event.type}, ${attempt}, ${result.statusCode},
                  ${result.error?.slice(0, 2000) ?? null}, ${result.durationMs}, ${outcome}, now())`;
  return ctx.orm.em.fork().transactional(async (tx: EntityManager) => {
    await run(tx, attemptRow);
    if (outcome !== 'ALERTED') return false;
    // One self-referencing UPDATE: after waiting for a concurrent failure's lock, PostgreSQL evaluates
    // it again on the latest row, so no increment is lost (a locked sub-select in FROM could be stale).
    const disabling = sql`active and ${disableAfter}::int > 0 and consecutive_failures + 1 >= ${disableAfter}::int`;
    const [row] = await query<{ disabled: boolean }>(
      tx,
      sql`update webhooks set consecutive_failures = consecutive_failures + 1,
                 disabled_at = case when ${disabling} then now() else disabled_at end,
                 active = active and not (${disabling})
          where id = ${webhookId}
          returning (not active and disabled_at = now()) as disabled`,
    );
    return row?.disabled ?? false;
  });
}

/**
 * Attempts that reached the endpoint (one, or a batch's), and the endpoint's failure counts reset: one
 * statement, no BEGIN/COMMIT.
 */
export async function recordDelivered(
  ctx: AppContext,
  webhookId: string,
  sent: { event: WebhookEvent; result: PostResult }[],
  attempt = 1,
): Promise<void> {
  if (sent.length === 0) return;
  webhookAttemptsTotal.inc({ outcome: 'DELIVERED' }, sent.length);
  await run(
    ctx.orm.em.fork(),
    preparedStatement(sql`with attempts as (
          insert into webhook_deliveries (id, webhook_id, event_id, event_type, attempt, status_code, error,
                                          duration_ms, outcome, at)
          select t.id, ${webhookId}, t.event_id, t.event_type, ${attempt}::int, t.status_code, null, t.duration_ms,
                 'DELIVERED', now()
          from unnest(${sent.map(() => uuidv7())}::uuid[], ${sent.map((s) => s.event.id)}::text[],
                      ${sent.map((s) => s.event.type)}::text[], ${sent.map((s) => s.result.statusCode)}::int[],
                      ${sent.map((s) => s.result.durationMs)}::int[])
            as t(id, event_id, event_type, status_code, duration_ms))
        update webhooks set consecutive_failures = 0, failure_streak = 0
        where id = ${webhookId} and (consecutive_failures > 0 or failure_streak > 0)`),
  );
}
