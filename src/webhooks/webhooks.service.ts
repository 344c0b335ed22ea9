import type { AuthUser } from '../auth/auth-user';
import type { AppContext } from '../context';
import { db, type Row } from '../db/database';
import { asIso, query, run, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import { NEWEST_FIRST, orderBySql, type PageRequest, pageMeta, type SortRequest } from '../paging';
import { nonPublicReason } from './endpoint-guard';
import { forgetWebhookEndpoints } from './webhook-endpoints';

export interface WebhookRegistration {
  url: string;
  events: string[];
  secret: string;
}

export type WebhookStatus = 'ACTIVE' | 'FAILING' | 'DISABLED';

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  active: boolean;
  /** FAILING: its last delivery exhausted its retries; DISABLED: WEBHOOK_DISABLE_AFTER of them in a row. */
  status: WebhookStatus;
  consecutiveFailures: number;
  createdAt: string;
  disabledAt: string | null;
  stats: {
    attempts: number;
    delivered: number;
    failedAttempts: number;
    alerted: number;
    lastAttemptAt: string | null;
    lastSuccessAt: string | null;
    lastFailureAt: string | null;
    lastError: string | null;
  };
}

/**
 * Registers an endpoint. The URL's shape and the event names are checked by the route's schema; here,
 * in production, the host must resolve to public addresses only (SSRF), every one of them.
 */
export async function registerWebhook(
  ctx: AppContext,
  admin: AuthUser,
  input: WebhookRegistration,
): Promise<WebhookView> {
  const url = new URL(input.url);
  if (ctx.config.isProduction) {
    const reason = await nonPublicReason(url);
    if (reason) {
      const messages = {
        en: 'The webhook URL must reach a public address',
        ko: '웹훅 URL은 공개된 주소로 연결되어야 합니다',
      };
      throw new DomainError('VALIDATION_ERROR', messages, [{ field: 'body.url', message: reason }]);
    }
  }
  const id = uuidv7();
  const events = [...new Set(input.events)];
  await run(
    ctx.orm.em.fork(),
    sql`insert into webhooks (id, url, events, secret, active, consecutive_failures, created_by, created_at)
        values (${id}, ${url.toString()}, ${events}::text[], ${input.secret}, true, 0, ${admin.id}, now())`,
  );
  forgetWebhookEndpoints(ctx);
  return (await loadWebhookViews(ctx, { id, page: 0, size: 1 })).rows[0]!;
}

/** What `GET /admin/webhooks?sort=` may order by (the API's names), and their columns. */
export const WEBHOOK_SORT_FIELDS = ['createdAt', 'url'] as const;
export type WebhookSortField = (typeof WEBHOOK_SORT_FIELDS)[number];
const WEBHOOK_SORT_COLUMNS: Record<WebhookSortField, string> = { createdAt: 'w.created_at', url: 'w.url' };

/** Registered endpoints, newest first unless `sort` says otherwise (id breaks ties the same way). */
export async function listWebhooks(
  ctx: AppContext,
  page: PageRequest & { sort?: SortRequest<WebhookSortField> | undefined },
) {
  const [{ rows }, count] = await Promise.all([
    loadWebhookViews(ctx, { ...page }),
    db(ctx.orm.em.fork())
      .selectFrom('webhooks')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow(),
  ]);
  return { data: rows, meta: pageMeta(page, count.n) };
}

/** Removes an endpoint from delivery (its history stays); an unknown or removed one is 404. */
export async function deleteWebhook(ctx: AppContext, id: string): Promise<WebhookView> {
  const view = (await loadWebhookViews(ctx, { id, page: 0, size: 1 })).rows[0];
  const removed = await run(
    ctx.orm.em.fork(),
    sql`update webhooks set active = false, deleted_at = now() where id = ${id} and deleted_at is null`,
  );
  if (!view || removed === 0)
    throw new DomainError('NOT_FOUND', { en: 'Webhook not found', ko: '웹훅을 찾을 수 없습니다' });
  forgetWebhookEndpoints(ctx);
  return { ...view, active: false };
}

type WebhookRow = Row<
  'webhooks',
  'id' | 'url' | 'events' | 'active' | 'consecutive_failures' | 'created_at' | 'disabled_at'
> & {
  attempts: number;
  delivered: number;
  failed_attempts: number;
  alerted: number;
  last_attempt_at: string | Date | null;
  last_success_at: string | Date | null;
  last_failure_at: string | Date | null;
  last_error: string | null;
};

async function loadWebhookViews(
  ctx: AppContext,
  filter: { id?: string; sort?: SortRequest<WebhookSortField> | undefined } & PageRequest,
) {
  const rows = await query<WebhookRow>(
    ctx.orm.em.fork(),
    sql`select w.id, w.url, w.events, w.active, w.consecutive_failures, w.created_at, w.disabled_at,
               s.attempts, s.delivered, s.failed_attempts, s.alerted, s.last_attempt_at, s.last_success_at,
               s.last_failure_at, e.error as last_error
        from webhooks w
        cross join lateral (
          select count(*)::int as attempts,
                 count(*) filter (where outcome = 'DELIVERED')::int as delivered,
                 count(*) filter (where outcome in ('RETRYING', 'ALERTED'))::int as failed_attempts,
                 count(*) filter (where outcome = 'ALERTED')::int as alerted,
                 max(at) as last_attempt_at,
                 max(at) filter (where outcome = 'DELIVERED') as last_success_at,
                 max(at) filter (where outcome in ('RETRYING', 'ALERTED')) as last_failure_at
          from webhook_deliveries d where d.webhook_id = w.id) s
        left join lateral (
          select error from webhook_deliveries d
          where d.webhook_id = w.id and d.outcome in ('RETRYING', 'ALERTED') order by d.at desc limit 1) e on true
        where w.deleted_at is null and (${filter.id ?? null}::uuid is null or w.id = ${filter.id ?? null}::uuid)
        order by ${orderBySql(filter.sort ?? NEWEST_FIRST, WEBHOOK_SORT_COLUMNS, 'w.id')}
        limit ${filter.size} offset ${filter.page * filter.size}`,
  );
  return { rows: rows.map(toView) };
}

function toView(r: WebhookRow): WebhookView {
  return {
    id: r.id,
    url: r.url,
    events: r.events,
    active: r.active,
    status: !r.active ? 'DISABLED' : r.consecutive_failures > 0 ? 'FAILING' : 'ACTIVE',
    consecutiveFailures: r.consecutive_failures,
    createdAt: asIso(r.created_at)!,
    disabledAt: asIso(r.disabled_at),
    stats: {
      attempts: r.attempts,
      delivered: r.delivered,
      failedAttempts: r.failed_attempts,
      alerted: r.alerted,
      lastAttemptAt: asIso(r.last_attempt_at),
      lastSuccessAt: asIso(r.last_success_at),
      lastFailureAt: asIso(r.last_failure_at),
      lastError: r.last_error,
    },
  };
}
