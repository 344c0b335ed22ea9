import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import type { CouponStatus } from '../db/schema/coupon.entity';
import type { UserCouponStatus } from '../db/schema/user-coupon.entity';
import { query, sql } from '../db/sql';
import { DomainError, isDomainError } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import { Outbox } from '../messaging/outbox';
import { perContext } from '../per-context';
import { claimCouponSlot, GATED_STATUSES, type GiveBackReason, giveBackClaim } from './coupon-gate';
import { ensureCouponGate } from './coupon-gate-rebuild';
import {
  COUPON_COLUMNS,
  type CouponRow,
  toUserCouponView,
  USER_COUPON_COLUMNS,
  type UserCouponRow,
  type UserCouponView,
} from './coupon-view';
import { WinnerBatches } from './winner-batches';

// A CREATED coupon whose window has opened is issuable: issuing starts it, should its activation
// job be late.
const ISSUABLE: readonly CouponStatus[] = GATED_STATUSES;

type IssueWindow = Row<'coupons', 'status' | 'valid_from' | 'valid_until'>;

const outsideWindow = () =>
  new DomainError('COUPON_NOT_APPLICABLE', undefined, [
    { field: 'id', message: 'outside its validity window' },
  ]);

function assertIssuable(coupon: IssueWindow | undefined, now: Date): void {
  if (!coupon) throw new DomainError('COUPON_NOT_FOUND');
  if (!ISSUABLE.includes(coupon.status)) {
    throw new DomainError('COUPON_NOT_APPLICABLE', undefined, [
      { field: 'id', message: `the coupon is ${coupon.status.toLowerCase()}` },
    ]);
  }
  const at = now.getTime();
  if (at < new Date(coupon.valid_from).getTime() || at >= new Date(coupon.valid_until).getTime()) {
    throw outsideWindow();
  }
}

/** A gate's refusal, answered from a prepared body (see src/http/coupon-refusals.ts), never thrown. */
export type IssueRefusal = 'SOLD_OUT' | 'ALREADY_ISSUED' | 'RATE_LIMITED' | 'OUTSIDE_WINDOW';

export type IssueOutcome =
  | { issued: UserCouponView; refusal?: undefined }
  | { issued?: undefined; refusal: IssueRefusal };

const winnerBatches = perContext(
  (ctx: AppContext) =>
    new WinnerBatches(
      ctx,
      (couponId, userId) => recordOne(ctx, couponId, userId),
      (couponId, userId) => giveBack(ctx, couponId, userId, 'NOT_RECORDED'),
    ),
);

/**
 * POST /coupons/{id}/issue. The Redis gate decides (one Lua step: rate limit, window, already
 * issued, sold out, claim), so losers never touch PostgreSQL and are answered with a refusal, not an
 * exception. The winners' user coupons are written in batches (winner-batches.ts) and each is durable
 * in PostgreSQL before its 201; if PostgreSQL refuses or fails, the claim is handed back so the gate
 * stays in step with the truth. Without a gate, PostgreSQL says whether the coupon exists and may be
 * issued (404 and 400 are thrown), and the gate is rebuilt.
 */
export async function issueCoupon(ctx: AppContext, userId: string, couponId: string): Promise<IssueOutcome> {
  const now = new Date();
  let verdict = await claimCouponSlot(ctx, couponId, userId, now);
  if (verdict === 'NO_GATE') {
    const gate = await ensureCouponGate(ctx, couponId);
    if (!gate) throw new DomainError('COUPON_NOT_FOUND');
    if (!ISSUABLE.includes(gate.status)) {
      throw new DomainError('COUPON_NOT_APPLICABLE', undefined, [
        { field: 'id', message: `the coupon is ${gate.status.toLowerCase()}` },
      ]);
    }
    // The same request: its rate was counted by the first attempt.
    verdict = await claimCouponSlot(ctx, couponId, userId, now, { countRequest: false });
  }
  switch (verdict) {
    case 'CLAIMED':
      return { issued: await winnerBatches(ctx).record(couponId, userId) };
    case 'NO_GATE':
      throw new DomainError('SERVICE_UNAVAILABLE');
    default:
      return { refusal: verdict };
  }
}

/** One winner in a transaction of its own; PostgreSQL's refusal corrects the gate and is thrown. */
async function recordOne(ctx: AppContext, couponId: string, userId: string): Promise<UserCouponView> {
  const em = ctx.orm.em.fork();
  try {
    return await em.transactional((tx) => recordIssue(tx, couponId, userId, new Date()));
  } catch (error) {
    const reason: GiveBackReason =
      isDomainError(error) && error.code === 'COUPON_ALREADY_ISSUED'
        ? 'ALREADY_HELD'
        : isDomainError(error) && error.code === 'COUPON_SOLD_OUT'
          ? 'SOLD_OUT'
          : 'NOT_RECORDED';
    await giveBack(ctx, couponId, userId, reason);
    throw error;
  }
}

async function giveBack(ctx: AppContext, couponId: string, userId: string, reason: GiveBackReason) {
  await giveBackClaim(ctx, couponId, userId, reason).catch((err) =>
    ctx.log.error(
      { err: String(err), couponId, userId, reason },
      'could not hand a coupon claim back; POST /admin/coupons/{id}/resync repairs the gate',
    ),
  );
}

/**
 * The database's own guarantee: the user coupon row (UNIQUE per coupon and user) and a conditional
 * increment that cannot pass totalQuantity. The hot coupon row is updated last, so its lock is held
 * only until commit.
 */
async function recordIssue(
  tx: EntityManager,
  couponId: string,
  userId: string,
  now: Date,
): Promise<UserCouponView> {
  const userCouponId = uuidv7();
  const [inserted] = await query<UserCouponRow>(
    tx,
    sql`insert into user_coupons as uc (id, coupon_id, user_id, status, order_id, issued_at, used_at, updated_at)
        values (${userCouponId}, ${couponId}, ${userId}, 'ISSUED', null, ${now}, null, ${now})
        on conflict (coupon_id, user_id) do nothing
        returning ${USER_COUPON_COLUMNS}`,
  );
  if (!inserted) throw new DomainError('COUPON_ALREADY_ISSUED');
  const outbox = new Outbox();
  outbox.event('COUPON_ISSUED', { type: 'coupon', id: couponId }, { couponId, userCouponId, userId });
  await outbox.flush(tx, now);
  const [coupon] = await query<CouponRow>(
    tx,
    sql`update coupons c
        set issued_count = c.issued_count + 1, updated_at = ${now},
            status = case when c.issued_count + 1 >= c.total_quantity then 'EXHAUSTED' else 'ACTIVE' end
        where c.id = ${couponId} and c.issued_count < c.total_quantity and c.status in ('ACTIVE', 'CREATED')
          and c.valid_from <= ${now} and c.valid_until > ${now}
        returning ${COUPON_COLUMNS}`,
  );
  if (!coupon) throw await refusal(tx, couponId, now);
  return toUserCouponView({ ...inserted, ...coupon });
}

async function refusal(tx: EntityManager, couponId: string, now: Date): Promise<DomainError> {
  const [row] = await query<
    Row<'coupons', 'status' | 'valid_from' | 'valid_until' | 'issued_count' | 'total_quantity'>
  >(
    tx,
    sql`select status, valid_from, valid_until, issued_count, total_quantity from coupons where id = ${couponId}`,
  );
  if (row && row.issued_count >= row.total_quantity) return new DomainError('COUPON_SOLD_OUT');
  try {
    assertIssuable(row, now);
  } catch (error) {
    return error as DomainError;
  }
  return new DomainError('COUPON_NOT_APPLICABLE');
}

/** GET /coupons/mine: the caller's coupons, newest first, optionally of one status. */
export async function listMyCoupons(
  ctx: AppContext,
  userId: string,
  status?: UserCouponStatus,
): Promise<UserCouponView[]> {
  const rows = await query<UserCouponRow & CouponRow>(
    ctx.orm.em.fork(),
    sql`select ${USER_COUPON_COLUMNS}, ${COUPON_COLUMNS}
        from user_coupons uc join coupons c on c.id = uc.coupon_id
        where uc.user_id = ${userId} ${status ? sql`and uc.status = ${status}` : sql``}
        order by uc.issued_at desc, uc.id desc`,
  );
  return rows.map(toUserCouponView);
}
