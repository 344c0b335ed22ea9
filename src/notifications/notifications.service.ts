import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuthUser } from '../auth/auth-user';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import type { NotificationType } from '../db/schema/notification.entity';
import { asDate, preparedStatement, query, run, sql } from '../db/sql';
import { DomainError, type LocalizedText } from '../errors/domain-error';
import type { Language } from '../errors/error-codes';
import { uuidv7 } from '../ids';
import { NEWEST_FIRST, orderBySql, type PageRequest, pageMeta, type SortRequest } from '../paging';

export interface NotificationDraft {
  userId: string;
  type: NotificationType;
  /** In each language; the reader's is shown (GET /notifications follows Accept-Language). */
  title: LocalizedText;
  body: LocalizedText;
  orderId: string | null;
  /** The event (or other fact) it comes from: (userId, type, eventId) is unique. */
  eventId: string;
}

export interface NotificationView {
  id: string;
  type: NotificationType;
  title: string;
  body: string;
  orderId: string | null;
  createdAt: string;
  readAt: string | null;
}

/**
 * Writes a notification in the caller's transaction; false when this user already has it for this
 * event. Other areas (e.g. coupons' COUPON_EXPIRING) call it too.
 */
export async function insertNotification(
  em: EntityManager,
  n: NotificationDraft,
  now: Date,
): Promise<boolean> {
  const inserted = await run(
    em,
    sql`insert into notifications (id, user_id, type, title, body, title_ko, body_ko, order_id, event_id, created_at)
        values (${uuidv7()}, ${n.userId}, ${n.type}, ${n.title.en}, ${n.body.en}, ${n.title.ko}, ${n.body.ko},
                ${n.orderId}, ${n.eventId}, ${now})
        on conflict (user_id, type, event_id) do nothing`,
  );
  return inserted === 1;
}

/**
 * Records (consumer, event) as processed and writes the notification in ONE statement (a CTE): the
 * notification is inserted only if this delivery is the first. 'duplicate' when it was not.
 */
export async function insertNotificationOnce(
  em: EntityManager,
  consumer: string,
  n: NotificationDraft,
  now: Date,
): Promise<'applied' | 'duplicate'> {
  const [row] = await query<{ first: number }>(
    em,
    sql`with first as (
          insert into processed_messages (consumer, message_id, processed_at)
          values (${consumer}, ${n.eventId}, clock_timestamp()) on conflict do nothing returning 1),
        written as (
          insert into notifications (id, user_id, type, title, body, title_ko, body_ko, order_id, event_id, created_at)
          select ${uuidv7()}, ${n.userId}, ${n.type}, ${n.title.en}, ${n.body.en}, ${n.title.ko}, ${n.body.ko},
                 ${n.orderId}, ${n.eventId}, ${now}
          where exists (select 1 from first)
          on conflict (user_id, type, event_id) do nothing)
        select count(*)::int as first from first`,
  );
  return row!.first === 1 ? 'applied' : 'duplicate';
}

/**
 * insertNotificationOnce for many events at once: ONE statement records every (consumer, event) and
 * writes the notifications of the events seen for the first time. Returns the ids of those events.
 */
export async function insertNotificationsOnce(
  em: EntityManager,
  consumer: string,
  drafts: { draft: NotificationDraft; at: Date }[],
): Promise<Set<string>> {
  if (drafts.length === 0) return new Set();
  const d = drafts.map((x) => x.draft);
  const rows = await query<Row<'processed_messages', 'message_id'>>(
    em,
    preparedStatement(sql`with first as (
          insert into processed_messages (consumer, message_id, processed_at)
          select ${consumer}, e, clock_timestamp() from unnest(${d.map((n) => n.eventId)}::text[]) as e
          on conflict do nothing returning message_id),
        written as (
          insert into notifications (id, user_id, type, title, body, title_ko, body_ko, order_id, event_id, created_at)
          select t.id, t.user_id, t.type, t.title, t.body, t.title_ko, t.body_ko, t.order_id, t.event_id, t.created_at
          from unnest(${d.map(() => uuidv7())}::uuid[], ${d.map((n) => n.userId)}::uuid[],
                      ${d.map((n) => n.type)}::text[], ${d.map((n) => n.title.en)}::text[],
                      ${d.map((n) => n.body.en)}::text[], ${d.map((n) => n.title.ko)}::text[],
                      ${d.map((n) => n.body.ko)}::text[], ${d.map((n) => n.orderId)}::uuid[],
                      ${d.map((n) => n.eventId)}::text[], ${drafts.map((x) => x.at)}::timestamptz[])
            as t(id, user_id, type, title, body, title_ko, body_ko, order_id, event_id, created_at)
          join first f on f.message_id = t.event_id
          on conflict (user_id, type, event_id) do nothing)
        select message_id from first`),
  );
  return new Set(rows.map((r) => r.message_id));
}

type NotificationRow = Row<
  'notifications',
  'id' | 'type' | 'title' | 'body' | 'title_ko' | 'body_ko' | 'order_id' | 'created_at' | 'read_at'
>;

const COLUMNS = sql`id, type, title, body, title_ko, body_ko, order_id, created_at, read_at`;

/** The notification in the reader's language (English where a row has no Korean text). */
function toView(row: NotificationRow, lang: Language): NotificationView {
  const korean = lang === 'ko' && row.title_ko !== null && row.body_ko !== null;
  return {
    id: row.id,
    type: row.type,
    title: korean ? row.title_ko! : row.title,
    body: korean ? row.body_ko! : row.body,
    orderId: row.order_id,
    createdAt: asDate(row.created_at).toISOString(),
    readAt: row.read_at === null ? null : asDate(row.read_at).toISOString(),
  };
}

/**
 * What `GET /notifications?sort=` may order by (the API's names), and their columns. An unread one's
 * readAt is null, which PostgreSQL sorts last ascending and first descending.
 */
export const NOTIFICATION_SORT_FIELDS = ['createdAt', 'readAt'] as const;
export type NotificationSortField = (typeof NOTIFICATION_SORT_FIELDS)[number];
const NOTIFICATION_SORT_COLUMNS: Record<NotificationSortField, string> = {
  createdAt: 'created_at',
  readAt: 'read_at',
};

/**
 * The caller's notifications, newest first unless `sort` says otherwise (id breaks ties the same way);
 * `unread` true → only unread, false → only read ones.
 */
export async function listNotifications(
  ctx: AppContext,
  user: AuthUser,
  filter: {
    unread?: boolean | undefined;
    sort?: SortRequest<NotificationSortField> | undefined;
  } & PageRequest,
  lang: Language = 'en',
) {
  const em = ctx.orm.em.fork();
  const readFilter =
    filter.unread === undefined ? sql`true` : filter.unread ? sql`read_at is null` : sql`read_at is not null`;
  const where = sql`user_id = ${user.id} and ${readFilter}`;
  const [rows, [count]] = await Promise.all([
    query<NotificationRow>(
      em,
      sql`select ${COLUMNS} from notifications where ${where}
          order by ${orderBySql(filter.sort ?? NEWEST_FIRST, NOTIFICATION_SORT_COLUMNS)}
          limit ${filter.size} offset ${filter.page * filter.size}`,
    ),
    query<{ n: number }>(em, sql`select count(*)::int as n from notifications where ${where}`),
  ]);
  return { data: rows.map((row) => toView(row, lang)), meta: pageMeta(filter, count!.n) };
}

/** Marks the caller's notification read (the first read time stays); anyone else's is 404. */
export async function markNotificationRead(
  ctx: AppContext,
  user: AuthUser,
  id: string,
  lang: Language = 'en',
): Promise<NotificationView> {
  const [row] = await query<NotificationRow>(
    ctx.orm.em.fork(),
    sql`update notifications set read_at = coalesce(read_at, now())
        where id = ${id} and user_id = ${user.id} returning ${COLUMNS}`,
  );
  if (!row)
    throw new DomainError('NOT_FOUND', { en: 'Notification not found', ko: '알림을 찾을 수 없습니다' });
  return toView(row, lang);
}
