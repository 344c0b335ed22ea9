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
 * One job id per fact, so a fact reported twice (a retried job, the sweep) is one message: BullMQ
 * drops the duplicate job and the order records the id it applied.
 */
export function noticeJobId(fact: PaymentFact): string {
  switch (fact.type) {
    case 'PAYMENT_SUCCEEDED':
      return `paid-${fact.paymentId}`;
    case 'PAYMENT_FAILED':
      return `payfail-${fact.paymentId}`;
    case 'REFUND_COMPLETED':
      return `refunded-${fact.refundId}`;
    case 'REFUND_FAILED':
      return `refundfail-${fact.refundId}`;
  }
}

export function addNotice(outbox: Outbox, orderId: string, fact: PaymentFact): void {
  outbox.message(
    'order',
    ORDER_NOTICE,
    { orderId, event: fact },
    { jobId: noticeJobId(fact), aggregateId: orderId },
  );
}

/**
 * Tells the order a fact through the outbox, in one committed transaction together with `alongside`
 * (the balance debit or credit the fact is about), then wakes the relay. A balance conflict runs the
 * whole transaction again.
 */
export async function tellOrder(
  ctx: AppContext,
  log: Logger,
  orderId: string,
  fact: PaymentFact,
  alongside?: (tx: EntityManager) => Promise<unknown>,
): Promise<void> {
  await retryOnBalanceConflict(() =>
    ctx.orm.em.fork().transactional(async (tx) => {
      await alongside?.(tx);
      const outbox = new Outbox();
      addNotice(outbox, orderId, fact);
      await outbox.flush(tx, new Date());
    }),
  );
  await wakeOutboxRelay(ctx).catch((err) => log.debug({ err: String(err) }, 'wake'));
  log.debug({ orderId, fact: fact.type, ...('reason' in fact ? { reason: fact.reason } : {}) }, 'order told');
}
