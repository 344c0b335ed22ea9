import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import type { NotNull } from 'kysely';
import type { AppContext } from '../context';
import { db, type Row } from '../db/database';
import { asDate, query, run, sql } from '../db/sql';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import { webhookAttemptsTotal } from '../messaging/event-metrics';
import type { WebhookDeliveryJob } from '../messaging/messages';
import { failedJobRetention } from '../messaging/queues';
import { postSignedEvent } from './post-signed';
import { webhookJobOptions } from './webhook-jobs';

/**
 * The circuit breaker of a webhook endpoint. WEBHOOK_BREAKER_FAILURES failed attempts in a row (over
 * any deliveries) pause it: from then on its events wait in `webhook_backlog` (PostgreSQL) instead of
 * as one Redis job each, and a single delayed probe job per endpoint tries the oldest of them when the
 * pause ends. A probe that succeeds closes the circuit and releases the backlog as ordinary delivery
 * jobs; one that fails doubles the pause (up to 10 minutes) and counts like an ALERTED delivery, so
 * an endpoint dead for good is disabled after WEBHOOK_DISABLE_AFTER of them. Redis holds O(1) per
 * failing endpoint, whatever the event rate.
 */
export const WEBHOOK_PROBE = 'WEBHOOK_PROBE';
const MAX_PAUSE_MS = 10 * 60_000;
const RELEASE_BATCH = 500;

export interface HeldEvent {
  webhookId: string;
  event: WebhookDeliveryJob['event'];
}

/** Holds events for paused endpoints (one statement; a repeat is a no-op). */
export async function holdEvents(em: EntityManager, held: HeldEvent[]): Promise<void> {
  if (held.length === 0) return;
  await run(
    em,
    sql`insert into webhook_backlog (webhook_id, event_id, event, held_at)
        select webhook_id, event_id, event, clock_timestamp()
        from unnest(${held.map((h) => h.webhookId)}::uuid[], ${held.map((h) => h.event.id)}::text[],
                    ${held.map((h) => JSON.stringify(h.event))}::jsonb[]) as t(webhook_id, event_id, event)
        on conflict do nothing`,
  );
}

/** The probe of one pause: its job id names the pause's end, so re-scheduling it is a no-op. */
export async function scheduleProbe(ctx: AppContext, webhookId: string, pausedUntil: Date): Promise<void> {
  await ctx.queues.webhooks.add(
    WEBHOOK_PROBE,
    { webhookId },
    {
      jobId: `probe-${webhookId}-${pausedUntil.getTime()}`,
      delay: Math.max(0, pausedUntil.getTime() - Date.now()),
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: failedJobRetention(ctx.config),
    },
  );
}

/**
 * Counts a failed attempt against the endpoint's streak and opens the circuit at the threshold.
 * Returns when the endpoint is paused until (null: the circuit is closed).
 */
export async function countFailedAttempt(em: EntityManager, ctx: AppContext, webhookId: string) {
  const threshold = ctx.config.webhookBreakerFailures;
  const pause = `${ctx.config.webhookBreakerPauseMs} milliseconds`;
  const [row] = await query<Row<'webhooks', 'paused_until'>>(
    em,
    sql`update webhooks set failure_streak = failure_streak + 1,
               paused_until = case when paused_until is null and failure_streak + 1 >= ${threshold}::int
                                   then now() + ${pause}::interval else paused_until end
        where id = ${webhookId} returning paused_until`,
  );
  return row?.paused_until ? asDate(row.paused_until) : null;
}

/** Every paused endpoint gets its probe again (Redis may have lost it): run at worker start and periodically. */
export async function rescheduleProbes(ctx: AppContext): Promise<void> {
  const paused = await db(ctx.orm.em.fork())
    .selectFrom('webhooks')
    .select(['id', 'paused_until'])
    .where('paused_until', 'is not', null)
    .where('active', '=', true)
    .where('deleted_at', 'is', null)
    .$narrowType<{ paused_until: NotNull }>()
    .execute();
  for (const p of paused) await scheduleProbe(ctx, p.id, asDate(p.paused_until));
}

/** `WEBHOOK_PROBE {webhookId}`: one delivery of the oldest held event decides whether to close the circuit. */
export async function runProbe(ctx: AppContext, job: Job, log: Logger): Promise<string> {
  const { webhookId } = job.data as { webhookId: string };
  const em = ctx.orm.em.fork();
  const endpoint = await db(em)
    .selectFrom('webhooks')
    .select([
      'url',
      'secret',
      sql<boolean>`(active and deleted_at is null)`.as('usable'),
      'paused_until',
      'failure_streak',
    ])
    .where('id', '=', webhookId)
    .executeTakeFirst();
  if (!endpoint?.usable) {
    await run(em, sql`delete from webhook_backlog where webhook_id = ${webhookId}`);
    return 'abandoned';
  }
  if (endpoint.paused_until === null) return `released ${await releaseBacklog(ctx, webhookId)}`;
  const pausedUntil = asDate(endpoint.paused_until);
  if (pausedUntil.getTime() > Date.now() + 100) {
    // A probe of an earlier pause: the current one has its own.
    await scheduleProbe(ctx, webhookId, pausedUntil);
    return 'early';
  }
  const [oldest] = await heldEvents(em, webhookId, 1);
  if (!oldest) {
    await closeCircuit(em, webhookId);
    return 'closed';
  }
  const result = await postSignedEvent({
    url: endpoint.url,
    secret: endpoint.secret,
    eventType: oldest.event.type,
    rawBody: JSON.stringify(oldest.event),
    timeoutMs: ctx.config.webhookTimeoutMs,
    publicOnly: ctx.config.isProduction,
  });
  const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const outcome = ok ? 'DELIVERED' : 'ALERTED';
  const next = await em.transactional(async (tx: EntityManager) => {
    await run(
      tx,
      sql`insert into webhook_deliveries (id, webhook_id, event_id, event_type, attempt, status_code, error, duration_ms,
                                          outcome, at)
          values (${uuidv7()}, ${webhookId}, ${oldest.event.id}, ${oldest.event.type}, 1, ${result.statusCode},
                  ${ok ? null : (result.error ?? `HTTP ${result.statusCode}`).slice(0, 2000)}, ${result.durationMs},
                  ${outcome}, now())`,
    );
    if (ok) {
      await run(
        tx,
        sql`delete from webhook_backlog where webhook_id = ${webhookId} and event_id = ${oldest.event.id}`,
      );
      await closeCircuit(tx, webhookId);
      return null;
    }
    return reopen(tx, ctx, webhookId, endpoint.failure_streak);
  });
  webhookAttemptsTotal.inc({ outcome });
  if (ok) {
    log.info({ webhookId }, 'webhook endpoint answered its probe: circuit closed, backlog released');
    return `released ${1 + (await releaseBacklog(ctx, webhookId))}`;
  }
  log.error(
    { webhookId, url: endpoint.url, statusCode: result.statusCode, error: result.error, nextProbeAt: next },
    'webhook endpoint failed its probe: delivery ALERTED, circuit stays open',
  );
  if (next) await scheduleProbe(ctx, webhookId, next);
  else log.error({ webhookId, url: endpoint.url }, 'webhook endpoint disabled after repeated failed probes');
  return 'still failing';
}

async function closeCircuit(em: EntityManager, webhookId: string): Promise<void> {
  await run(
    em,
    sql`update webhooks set paused_until = null, failure_streak = 0, consecutive_failures = 0 where id = ${webhookId}`,
  );
}

/** A failed probe: a longer pause, and one more failure towards WEBHOOK_DISABLE_AFTER. Null: disabled. */
async function reopen(tx: EntityManager, ctx: AppContext, webhookId: string, streak: number) {
  const threshold = ctx.config.webhookBreakerFailures;
  const pauseMs = Math.min(
    ctx.config.webhookBreakerPauseMs * 2 ** Math.max(0, streak + 1 - threshold),
    MAX_PAUSE_MS,
  );
  const disableAfter = ctx.config.webhookDisableAfter;
  const disabling = sql`active and ${disableAfter}::int > 0 and consecutive_failures + 1 >= ${disableAfter}::int`;
  const [row] = await query<Row<'webhooks', 'paused_until' | 'active'>>(
    tx,
    sql`update webhooks set failure_streak = failure_streak + 1, consecutive_failures = consecutive_failures + 1,
               paused_until = now() + ${`${pauseMs} milliseconds`}::interval,
               disabled_at = case when ${disabling} then now() else disabled_at end,
               active = active and not (${disabling})
        where id = ${webhookId} returning paused_until, active`,
  );
  return row?.active && row.paused_until ? asDate(row.paused_until) : null;
}

/** The oldest events held for an endpoint; the backlog stores them as their delivery jobs carry them. */
const heldEvents = (em: EntityManager, webhookId: string, limit: number) =>
  db(em)
    .selectFrom('webhook_backlog')
    .select(['event_id', 'event', 'held_at'])
    .where('webhook_id', '=', webhookId)
    .orderBy('held_at')
    .orderBy('event_id')
    .limit(limit)
    .$narrowType<{ event: HeldEvent['event'] }>()
    .execute();

/** Held events become ordinary delivery jobs again (added before they leave the backlog: none is lost). */
async function releaseBacklog(ctx: AppContext, webhookId: string): Promise<number> {
  let released = 0;
  for (;;) {
    const em = ctx.orm.em.fork();
    const held = await heldEvents(em, webhookId, RELEASE_BATCH);
    if (held.length === 0) return released;
    await ctx.queues.webhooks.addBulk(
      held.map((h) => ({
        name: h.event.type,
        data: { webhookId, event: h.event } satisfies WebhookDeliveryJob,
        opts: webhookJobOptions(ctx, `${h.event_id}-${webhookId}-h${asDate(h.held_at).getTime()}`),
      })),
    );
    await run(
      em,
      sql`delete from webhook_backlog where webhook_id = ${webhookId} and event_id = any(${held.map((h) => h.event_id)}::text[])`,
    );
    released += held.length;
  }
}
