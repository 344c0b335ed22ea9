import type { AppContext } from '../context';
import type { Row } from '../db/database';
import type { OutboxStatus } from '../db/schema/outbox-event.entity';
import { asDate, query, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { wakeOutboxRelay } from '../messaging/outbox-signal';
import { findJob, isQueueName } from '../messaging/queues';
import { NEWEST_FIRST, orderBySql, type PageRequest, pageMeta, type SortRequest } from '../paging';

export interface OutboxEventView {
  id: string;
  aggregateType: string;
  aggregateId: string;
  type: string;
  /** `events` for domain events; otherwise the actor mailbox the message goes to. */
  queue: string;
  payload: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string;
  sentAt: string | null;
  lastError: string | null;
}

/** What `GET /admin/outbox?sort=` may order by (the API's names), and their columns. */
export const OUTBOX_SORT_FIELDS = ['createdAt', 'nextAttemptAt', 'attempts'] as const;
export type OutboxSortField = (typeof OUTBOX_SORT_FIELDS)[number];
const OUTBOX_SORT_COLUMNS: Record<OutboxSortField, string> = {
  createdAt: 'created_at',
  nextAttemptAt: 'next_attempt_at',
  attempts: 'attempts',
};

export interface OutboxFilter extends PageRequest {
  status?: OutboxStatus | undefined;
  type?: string | undefined;
  aggregateId?: string | undefined;
  sort?: SortRequest<OutboxSortField> | undefined;
}

type OutboxRow = Row<
  'outbox_events',
  | 'id'
  | 'aggregate_type'
  | 'aggregate_id'
  | 'type'
  | 'queue'
  | 'payload'
  | 'status'
  | 'attempts'
  | 'created_at'
  | 'next_attempt_at'
  | 'sent_at'
  | 'last_error'
>;

const COLUMNS = sql`id, aggregate_type, aggregate_id, type, queue, payload, status, attempts, created_at,
  next_attempt_at, sent_at, last_error`;

function toView(r: OutboxRow): OutboxEventView {
  return {
    id: r.id,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    type: r.type,
    queue: r.queue,
    payload: r.payload,
    status: r.status,
    attempts: r.attempts,
    createdAt: asDate(r.created_at).toISOString(),
    nextAttemptAt: asDate(r.next_attempt_at).toISOString(),
    sentAt: r.sent_at === null ? null : asDate(r.sent_at).toISOString(),
    lastError: r.last_error,
  };
}

/**
 * Outbox rows newest first unless `sort` says otherwise (id breaks ties the same way), filtered by
 * status, type and aggregate id (an operator's view).
 */
export async function listOutboxEvents(ctx: AppContext, filter: OutboxFilter) {
  const em = ctx.orm.em.fork();
  const status = filter.status ?? null;
  const type = filter.type ?? null;
  const aggregateId = filter.aggregateId ?? null;
  const where = sql`(${status}::text is null or status = ${status})
    and (${type}::text is null or type = ${type})
    and (${aggregateId}::text is null or aggregate_id = ${aggregateId})`;
  const [rows, [count]] = await Promise.all([
    query<OutboxRow>(
      em,
      sql`select ${COLUMNS} from outbox_events where ${where}
          order by ${orderBySql(filter.sort ?? NEWEST_FIRST, OUTBOX_SORT_COLUMNS)}
          limit ${filter.size} offset ${filter.page * filter.size}`,
    ),
    query<{ n: number }>(em, sql`select count(*)::int as n from outbox_events where ${where}`),
  ]);
  return { data: rows.map(toView), meta: pageMeta(filter, count!.n) };
}

/**
 * Puts a FAILED or ALERTED row back to PENDING, due now and with its attempts counted afresh (an
 * operator fixed the cause), and wakes the relays. Any other status is 409: a PENDING or PROCESSING
 * row is on its way already, and a SENT one was delivered (consumers are idempotent, but re-sending
 * delivered history is not what this button is for).
 */
export async function retryOutboxEvent(ctx: AppContext, id: string): Promise<OutboxEventView> {
  const em = ctx.orm.em.fork();
  const [row] = await query<OutboxRow>(
    em,
    sql`update outbox_events set status = 'PENDING', attempts = 0, next_attempt_at = now(), claimed_at = null
        where id = ${id} and status in ('FAILED', 'ALERTED') returning ${COLUMNS}`,
  );
  if (!row) {
    const [current] = await query<Row<'outbox_events', 'status'>>(
      em,
      sql`select status from outbox_events where id = ${id}`,
    );
    if (!current)
      throw new DomainError('NOT_FOUND', {
        en: 'Outbox event not found',
        ko: '아웃박스 이벤트를 찾을 수 없습니다',
      });
    throw new DomainError('OUTBOX_EVENT_NOT_RETRYABLE', {
      en: `Only FAILED or ALERTED events can be retried; this one is ${current.status}`,
      ko: `FAILED 또는 ALERTED 상태의 이벤트만 재시도할 수 있습니다. 이 이벤트는 ${current.status} 상태입니다`,
    });
  }
  await forgetFailedJob(ctx, row.queue, id);
  await wakeOutboxRelay(ctx).catch(() => undefined);
  return toView(row);
}

/**
 * A failed BullMQ job kept under the row's job id would make the re-sent job a duplicate that never
 * runs; the operator asked for it to run again, so the failed one goes.
 */
async function forgetFailedJob(ctx: AppContext, queue: string, id: string): Promise<void> {
  const [target] = await query<Row<'outbox_events', 'job_id'>>(
    ctx.orm.em.fork(),
    sql`select job_id from outbox_events where id = ${id}`,
  );
  if (!isQueueName(queue)) return;
  const job = await findJob(ctx.queues, queue, target?.job_id ?? id);
  if (job && (await job.isFailed())) await job.remove();
}
