import type { Actor } from '../catalog/ownership';
import type { AppContext } from '../context';
import type { CouponStatus, DiscountType } from '../db/schema/coupon.entity';
import { query, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import { Outbox } from '../messaging/outbox';
import { NEWEST_FIRST, orderBySql, type SortRequest } from '../paging';
import { dropCouponGate, GATED_STATUSES } from './coupon-gate';
import { ensureCouponGate, type GateState, rebuildCouponGate } from './coupon-gate-rebuild';
import { decideStatusChange, type RequestableCouponStatus } from './coupon-status';
import { COUPON_COLUMNS, type CouponRow, type CouponView, toCouponView } from './coupon-view';

export interface NewCoupon {
  code: string;
  name: string;
  discountType: DiscountType;
  discountValue: number;
  maxDiscount?: number | null | undefined;
  minOrderAmount?: number | undefined;
  totalQuantity: number;
  validFrom: Date;
  validUntil: Date;
}

export const couponExpiryJobId = (couponId: string) => `coupon-expire-${couponId}`;
export const couponActivationJobId = (couponId: string) => `coupon-activate-${couponId}`;

/** A SELLER's coupon discounts that seller's products only; an ADMIN's is the platform's, for any order. */
const sellerOfCoupon = (actor: Actor): string | null => (actor.role === 'SELLER' ? actor.id : null);

/**
 * Creates a coupon: ACTIVE when its window has opened, CREATED before. In the same transaction the
 * outbox schedules its expiry at validUntil (and its activation at validFrom), delivered by the relay
 * as delayed jobs of the coupon mailbox. The gate is built after commit; if Redis is down then, the
 * first issue request builds it.
 */
export async function createCoupon(ctx: AppContext, actor: Actor, input: NewCoupon): Promise<CouponView> {
  const now = new Date();
  if (input.validUntil.getTime() <= now.getTime()) {
    throw new DomainError('VALIDATION_ERROR', undefined, [
      { field: 'body.validUntil', message: 'must be in the future' },
    ]);
  }
  const id = uuidv7();
  const status: CouponStatus = input.validFrom.getTime() <= now.getTime() ? 'ACTIVE' : 'CREATED';
  const em = ctx.orm.em.fork();
  const row = await em.transactional(async (tx) => {
    const [created] = await query<CouponRow>(
      tx,
      sql`insert into coupons as c (id, code, name, discount_type, discount_value, max_discount, min_order_amount,
                                    total_quantity, issued_count, valid_from, valid_until, status, created_by,
                                    seller_id, created_at, updated_at)
          values (${id}, ${input.code}, ${input.name}, ${input.discountType}, ${input.discountValue},
                  ${input.maxDiscount ?? null}, ${input.minOrderAmount ?? 0}, ${input.totalQuantity}, 0,
                  ${input.validFrom}, ${input.validUntil}, ${status}, ${actor.id},
                  ${sellerOfCoupon(actor)}, ${now}, ${now})
          on conflict (code) do nothing
          returning ${COUPON_COLUMNS}`,
    );
    if (!created) throw new DomainError('DUPLICATE_COUPON_CODE');
    const outbox = new Outbox();
    outbox.message(
      'coupon',
      'EXPIRE',
      { couponId: id },
      { jobId: couponExpiryJobId(id), aggregateId: id, deliverAt: input.validUntil },
    );
    if (status === 'CREATED') {
      outbox.message(
        'coupon',
        'ACTIVATE',
        { couponId: id },
        { jobId: couponActivationJobId(id), aggregateId: id, deliverAt: input.validFrom },
      );
    }
    await outbox.flush(tx, now);
    return created;
  });
  await ensureCouponGate(ctx, id).catch((err) =>
    ctx.log.warn({ err: String(err), couponId: id }, 'coupon gate not built; the first issue will build it'),
  );
  return toCouponView(row);
}

/** What `GET /coupons?sort=` may order by (the API's names), and their columns. */
export const COUPON_SORT_FIELDS = ['createdAt', 'validFrom', 'validUntil'] as const;
export type CouponSortField = (typeof COUPON_SORT_FIELDS)[number];
const COUPON_SORT_COLUMNS: Record<CouponSortField, string> = {
  createdAt: 'c.created_at',
  validFrom: 'c.valid_from',
  validUntil: 'c.valid_until',
};

export interface CouponListQuery {
  status?: CouponStatus | undefined;
  sort?: SortRequest<CouponSortField> | undefined;
  page: number;
  size: number;
}

/** GET /coupons: newest first unless `sort` says otherwise (id breaks ties), the page and the count side by side. */
export async function listCoupons(
  ctx: AppContext,
  search: CouponListQuery,
): Promise<{ items: CouponView[]; totalElements: number }> {
  const where = search.status ? sql`c.status = ${search.status}` : sql`true`;
  const [rows, [count]] = await Promise.all([
    query<CouponRow>(
      ctx.orm.em.fork(),
      sql`select ${COUPON_COLUMNS} from coupons c where ${where}
          order by ${orderBySql(search.sort ?? NEWEST_FIRST, COUPON_SORT_COLUMNS, 'c.id')}
          limit ${search.size} offset ${search.page * search.size}`,
    ),
    query<{ count: number }>(
      ctx.orm.em.fork(),
      sql`select count(*)::int as count from coupons c where ${where}`,
    ),
  ]);
  return { items: rows.map(toCouponView), totalElements: count?.count ?? 0 };
}

export async function getCoupon(ctx: AppContext, couponId: string): Promise<CouponView> {
  const [row] = await query<CouponRow>(
    ctx.orm.em.fork(),
    sql`select ${COUPON_COLUMNS} from coupons c where c.id = ${couponId}`,
  );
  if (!row) throw new DomainError('COUPON_NOT_FOUND');
  return toCouponView(row);
}

const MAX_STATUS_ATTEMPTS = 5;

/**
 * PATCH /coupons/{id}/status by its creator or an admin. The update is conditional on the status
 * the decision was made from, so a concurrent issue that exhausts the coupon (or the expiry) is not
 * overwritten: the decision is simply made again from the new status.
 */
export async function changeCouponStatus(
  ctx: AppContext,
  actor: Actor,
  couponId: string,
  requested: RequestableCouponStatus,
): Promise<CouponView> {
  const em = ctx.orm.em.fork();
  for (let attempt = 1; ; attempt++) {
    const [row] = await query<CouponRow>(
      em,
      sql`select ${COUPON_COLUMNS} from coupons c where c.id = ${couponId}`,
    );
    if (!row) throw new DomainError('COUPON_NOT_FOUND');
    if (actor.role !== 'ADMIN' && actor.id !== row.created_by) {
      throw new DomainError('FORBIDDEN', {
        en: 'Only the creator of this coupon or an admin may change it',
        ko: '이 쿠폰을 만든 사용자나 관리자만 변경할 수 있습니다',
      });
    }
    const now = new Date();
    const next = decideStatusChange(
      {
        status: row.status,
        issuedCount: row.issued_count,
        totalQuantity: row.total_quantity,
        validFrom: new Date(row.valid_from),
        validUntil: new Date(row.valid_until),
        suspendedByAdmin: row.suspended_by_admin,
      },
      requested,
      now,
      actor.role === 'ADMIN',
    );
    if (next.status === row.status) return toCouponView(row);
    const [changed] = await query<CouponRow>(
      em,
      sql`update coupons c set status = ${next.status}, suspended_by_admin = ${next.suspendedByAdmin},
                 updated_at = ${now}
          where c.id = ${couponId} and c.status = ${row.status}
          returning ${COUPON_COLUMNS}`,
    );
    if (changed) {
      await followWithGate(ctx, couponId, next.status);
      return toCouponView(changed);
    }
    if (attempt >= MAX_STATUS_ATTEMPTS) throw new DomainError('SERVICE_UNAVAILABLE');
  }
}

/**
 * Only an issuable coupon has a gate: suspending or cancelling drops it, resuming builds it. Done
 * after commit, by a rebuild of its own: one an issue request started before the commit may have read
 * the old status and would leave a resumed coupon without a gate. If Redis fails here, PostgreSQL
 * still refuses what the stale gate admits, and a resync (or the next start-up) repairs the gate.
 */
async function followWithGate(ctx: AppContext, couponId: string, status: CouponStatus): Promise<void> {
  try {
    if (GATED_STATUSES.includes(status)) await rebuildCouponGate(ctx, couponId, { onlyIfMissing: true });
    else await dropCouponGate(ctx, couponId);
  } catch (err) {
    ctx.log.warn({ err: String(err), couponId, status }, 'coupon gate not updated after a status change');
  }
}

/** POST /admin/coupons/{id}/resync: the gate rebuilt from PostgreSQL, replacing what Redis had. */
export async function resyncCouponGate(ctx: AppContext, couponId: string): Promise<GateState> {
  const state = await rebuildCouponGate(ctx, couponId);
  if (!state) throw new DomainError('COUPON_NOT_FOUND');
  return state;
}
