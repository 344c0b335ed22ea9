import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { query, sql } from '../db/sql';
import { uuidv7 } from '../ids';
import { Outbox } from '../messaging/outbox';
import {
  COUPON_COLUMNS,
  type CouponRow,
  toUserCouponView,
  USER_COUPON_COLUMNS,
  type UserCouponRow,
  type UserCouponView,
} from './coupon-view';

/** At most this many winners of one coupon share a transaction. */
export const MAX_WINNERS_PER_BATCH = 200;

interface PendingWinner {
  userId: string;
  resolve: (view: UserCouponView) => void;
  reject: (error: unknown) => void;
}

/** The batch cannot be written as a whole (a holder the gate forgot, fewer left than it thought). */
class BatchDoesNotFit extends Error {}

/**
 * What the writer of one batch does when the batch as a whole does not fit: each winner is then
 * recorded on its own (the exact refusal per user, and the claim handed back when refused).
 */
export type RecordOne = (couponId: string, userId: string) => Promise<UserCouponView>;
/** Hands a claim back to the gate after PostgreSQL failed to record it (the write never happened). */
export type GiveBack = (couponId: string, userId: string) => Promise<void>;

/**
 * Group commit of a coupon's winners. A winner waits while the coupon's previous batch commits; then
 * everyone who arrived meanwhile is written in one transaction — the user coupons in one INSERT, their
 * COUPON_ISSUED events in one INSERT, and one conditional increment of `issued_count` by the batch's
 * size — and each winner is answered only after that COMMIT (never a 201 before PostgreSQL has it).
 * At low load a batch is one winner and waits for nothing. If the batch does not fit as a whole, each
 * winner is recorded on its own; if the write fails (PostgreSQL down, the connection lost), every
 * winner's claim is handed back and every one of them gets the error.
 */
export class WinnerBatches {
  private readonly queues = new Map<string, PendingWinner[]>();
  private readonly running = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly recordOne: RecordOne,
    private readonly giveBack: GiveBack,
  ) {}

  /** Resolves with the user coupon once it is committed in PostgreSQL. */
  record(couponId: string, userId: string): Promise<UserCouponView> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(couponId);
      if (!queue) {
        queue = [];
        this.queues.set(couponId, queue);
      }
      queue.push({ userId, resolve, reject });
      if (!this.running.has(couponId)) void this.drain(couponId);
    });
  }

  private async drain(couponId: string): Promise<void> {
    this.running.add(couponId);
    try {
      for (;;) {
        const queue = this.queues.get(couponId);
        if (!queue || queue.length === 0) break;
        const batch = queue.splice(0, MAX_WINNERS_PER_BATCH);
        await this.writeBatch(couponId, batch);
      }
    } finally {
      this.running.delete(couponId);
      if (this.queues.get(couponId)?.length === 0) this.queues.delete(couponId);
    }
  }

  private async writeBatch(couponId: string, batch: PendingWinner[]): Promise<void> {
    try {
      const views = await this.ctx.orm.em.fork().transactional((tx) =>
        recordBatch(
          tx,
          couponId,
          batch.map((w) => w.userId),
          new Date(),
        ),
      );
      for (const [i, winner] of batch.entries()) winner.resolve(views[i]!);
      return;
    } catch (error) {
      if (!(error instanceof BatchDoesNotFit)) {
        await Promise.all(batch.map((w) => this.giveBack(couponId, w.userId)));
        for (const winner of batch) winner.reject(error);
        return;
      }
    }
    for (const winner of batch) {
      await this.recordOne(couponId, winner.userId).then(winner.resolve, winner.reject);
    }
  }
}

/**
 * One transaction for a batch of winners (distinct or not): all inserted and counted, or nothing. The
 * hot coupon row is updated last, so its lock is held only until commit. Each winner's view shows the
 * coupon as the batch left it.
 */
async function recordBatch(
  tx: EntityManager,
  couponId: string,
  userIds: string[],
  now: Date,
): Promise<UserCouponView[]> {
  const ids = userIds.map(() => uuidv7());
  const inserted = await query<UserCouponRow & Row<'user_coupons', 'user_id'>>(
    tx,
    sql`insert into user_coupons as uc (id, coupon_id, user_id, status, order_id, issued_at, used_at, updated_at)
        select t.id, ${couponId}::uuid, t.user_id, 'ISSUED', null::uuid, ${now}::timestamptz, null::timestamptz,
               ${now}::timestamptz
        from unnest(${ids}::uuid[], ${userIds}::uuid[]) as t(id, user_id)
        on conflict (coupon_id, user_id) do nothing
        returning ${USER_COUPON_COLUMNS}, uc.user_id`,
  );
  if (inserted.length !== userIds.length) throw new BatchDoesNotFit();
  const outbox = new Outbox();
  for (const row of inserted) {
    outbox.event(
      'COUPON_ISSUED',
      { type: 'coupon', id: couponId },
      { couponId, userCouponId: row.uc_id, userId: row.user_id },
    );
  }
  await outbox.flush(tx, now);
  const n = userIds.length;
  const [coupon] = await query<CouponRow>(
    tx,
    sql`update coupons c
        set issued_count = c.issued_count + ${n}, updated_at = ${now},
            status = case when c.issued_count + ${n} >= c.total_quantity then 'EXHAUSTED' else 'ACTIVE' end
        where c.id = ${couponId} and c.issued_count + ${n} <= c.total_quantity
          and c.status in ('ACTIVE', 'CREATED') and c.valid_from <= ${now} and c.valid_until > ${now}
        returning ${COUPON_COLUMNS}`,
  );
  if (!coupon) throw new BatchDoesNotFit();
  const byUser = new Map(inserted.map((row) => [row.user_id, row]));
  return userIds.map((userId) => toUserCouponView({ ...byUser.get(userId)!, ...coupon }));
}
