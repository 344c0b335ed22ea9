import type { EntityManager } from '@mikro-orm/postgresql';
import type { OrderEvent } from '../../machines/order.machine';
import { retryOnBalanceConflict } from '../balance/retry-on-conflict';
import type { AppContext } from '../context';
import type { Logger } from '../logger';
import { ORDER_NOTICE } from '../messaging/messages';
import { Outbox } from '../messaging/outbox';
import { wakeOutboxRelay } from '../messaging/outbox-signal';

type WithoutAt<E> = E extends unknown ? Omit<E, 'at'> : never;

/** The facts the payment actor reports to an order. */
export type PaymentFact = WithoutAt<
  Extract<OrderEvent, { type: 'PAYMENT_SUCCEEDED' | 'PAYMENT_FAILED' | 'REFUND_COMPLETED' | 'REFUND_FAILED' }>
>;

/**
 * One job id per fact and attempt, so a fact reported twice by one attempt (a retried job) is one
 * message: BullMQ drops the duplicate job and the order records the id it applied. A later attempt
 * (the sweep offering a payment whose notice was lost or failed for good) gets a new id: a failed job
 * kept under the old one would otherwise swallow it. The machine ignores a fact it has applied.
 */
function noticeJobId(fact: PaymentFact, attempt = 1): string {
  const round = attempt > 1 ? `-a${attempt}` : '';
  switch (fact.type) {
    case 'PAYMENT_SUCCEEDED':
      return `paid-${fact.paymentId}${round}`;
    case 'PAYMENT_FAILED':
      return `payfail-${fact.paymentId}${round}`;
    case 'REFUND_COMPLETED':
      return `refunded-${fact.refundId}${round}`;
    case 'REFUND_FAILED':
      return `refundfail-${fact.refundId}${round}`;
  }
}

export function addNotice(outbox: Outbox, orderId: string, fact: PaymentFact, attempt = 1): void {
  outbox.message(
    'order',
    ORDER_NOTICE,
    { orderId, event: fact },
    { jobId: noticeJobId(fact, attempt), aggregateId: orderId },
  );
}

/**
 * Tells the order a fact through the outbox, in one committed transaction together with `alongside`
 * (the balance debit or credit the fact is about), then wakes the relay. A balance conflict runs the
 * whole transaction again. Without `alongside` the notice is one statement (its own transaction).
 */
export async function tellOrder(
  ctx: AppContext,
  log: Logger,
  orderId: string,
  fact: PaymentFact,
  alongside?: (tx: EntityManager) => Promise<unknown>,
  attempt = 1,
): Promise<void> {
  const writeNotice = (em: EntityManager) => {
    const outbox = new Outbox();
    addNotice(outbox, orderId, fact, attempt);
    return outbox.flush(em, new Date());
  };
  if (alongside) {
    await retryOnBalanceConflict(() =>
      ctx.orm.em.fork().transactional(async (tx) => {
        await alongside(tx);
        await writeNotice(tx);
      }),
    );
  } else await writeNotice(ctx.orm.em.fork());
  await wakeOutboxRelay(ctx).catch((err) => log.debug({ err: String(err) }, 'wake'));
  log.debug({ orderId, fact: fact.type, ...('reason' in fact ? { reason: fact.reason } : {}) }, 'order told');
}
