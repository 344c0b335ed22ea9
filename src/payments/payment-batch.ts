import type { Job } from 'bullmq';
import type { AppContext } from '../context';
import type { Logger } from '../logger';
import { type BatchMember, runBatchMembers } from '../messaging/batch-members';
import { MAILBOX_JOBS, PAYMENT_CAPTURE, type PAYMENT_REFUND } from '../messaging/messages';
import { parseWith } from '../messaging/parse-job';
import { capturePayment } from './capture';
import { carryOutRefund } from './refund';

/**
 * A CAPTURE_BATCH or REFUND_BATCH job: each member carried out as its lone CAPTURE or REFUND
 * (its payment's or refund's row decides whether it is settled already), side by side. Members share
 * the batch job's attempt count, as they would share their lone jobs' retry policy.
 */
export function carryOutPaymentBatch(
  ctx: AppContext,
  job: Job,
  name: typeof PAYMENT_CAPTURE | typeof PAYMENT_REFUND,
  members: readonly BatchMember[],
  log: Logger,
) {
  const run = (member: BatchMember) => {
    const mlog = log.child({ member: member.id });
    return name === PAYMENT_CAPTURE
      ? capturePayment(ctx, job, parseWith(MAILBOX_JOBS.payment[name], 'payment', name, member.data), mlog)
      : carryOutRefund(ctx, job, parseWith(MAILBOX_JOBS.payment[name], 'payment', name, member.data), mlog);
  };
  return runBatchMembers(job, members, {
    idOf: (member) => member.id,
    run,
    laneOf: (member) => member.id,
    concurrency: ctx.config.workerConcurrency,
    log,
  });
}
