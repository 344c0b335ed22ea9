import { UnrecoverableError } from 'bullmq';
import {
  activateCoupon,
  expireCoupon,
  scheduleCouponSweep,
  sweepCoupons,
} from '../src/coupons/coupon-expiry';
import { parseMailboxJob } from '../src/messaging/parse-job';
import type { QueueWorkerDefinition } from './runtime';

/**
 * The coupon mailbox: EXPIRE at validUntil and ACTIVATE at validFrom (delayed jobs the outbox relay
 * schedules as `coupon-expire-{id}` / `coupon-activate-{id}`), and the periodic SWEEP that does both
 * for coupons whose delayed job Redis lost. Every job is idempotent, so redeliveries are harmless.
 */
export const couponWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'coupon',
  concurrency: () => 4,
  process: async (ctx, job, log) => {
    const message = parseMailboxJob('coupon', job);
    switch (message?.name) {
      case 'EXPIRE': {
        const { couponId } = message.data;
        const result = await expireCoupon(ctx, couponId);
        if (result.expired) log.info({ couponId, ...result }, 'coupon expired');
        return result;
      }
      case 'ACTIVATE':
        return { activated: await activateCoupon(ctx, message.data.couponId) };
      case 'SWEEP': {
        const result = await sweepCoupons(ctx);
        if (result.activated + result.expired + result.expiringNotices > 0) log.info(result, 'coupon sweep');
        return result;
      }
      default:
        throw new UnrecoverableError(`the coupon mailbox has no job '${job.name}'`);
    }
  },
  onStart: scheduleCouponSweep,
  // The scheduler lives in Redis: registered again periodically, so a flushed Redis regains it.
  refreshEveryMs: (ctx) => Math.max(5000, ctx.config.couponSweepIntervalMs * 5),
};
