import type { EntityManager } from '@mikro-orm/postgresql';
import type { OrderEvent } from '../../machines/order.machine';
import { retryOnBalanceConflict } from '../balance/retry-on-conflict';
import type { AppContext } from '../context';
import type { Logger } from '../logger';
import { ORDER_NOTICE } from '../messaging/messages';
import { Outbox } from '../messaging/outbox';
import { wakeOutboxRelay } from '../messaging/outbox-signal';
import { applyOrderNotice } from '../orders/order-actor';
import { inSpan } from '../tracing/tracing';

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
 * Tells the order a fact. With `alongside` (the balance debit or credit the fact is about) the fact
 * goes as a notice through the outbox, in one committed transaction together with the money (a
 * balance conflict runs the whole transaction again), and the relay is woken.
 *
 * Without it (a card's charge or decline, a balance too small, a free order, a refund's outcome at the
 * gateway or one given up on) the payment actor
 * applies the fact to the order itself, right after the money moved: the order's own step
 * (notifyOrder — its machine, a compare-and-set on the order's version, conflicts run again, the
 * fact's id recorded so a repeat is a no-op) in a transaction of its own. No notice row, relay pass
 * and order mailbox job lie between the charge and the PAID order. The job that moved the money is
 * still running meanwhile, so a crash before that commit runs it again, and it finds the money moved
 * at the gateway and tells the order again. If applying fails (PostgreSQL unreachable, conflicts that
 * do not settle), the fact goes as a notice through the outbox instead, under the same message id:
 * an order that applied it after all records the notice as a duplicate (and what follows a commit —
 * the cache invalidation, the auto-confirm timer, the status ping — is then left to the cache's TTL
 * and the order sweep, as when an order worker's job fails after its commit).
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
  let noticeSent = true;
  if (alongside) {
    await retryOnBalanceConflict(() =>
      ctx.orm.em.fork().transactional(async (tx) => {
        await alongside(tx);
        await writeNotice(tx);
      }),
    );
  } else if (await appliedToOrder(ctx, log, orderId, fact, attempt)) noticeSent = false;
  else await writeNotice(ctx.orm.em.fork());
  if (noticeSent) await wakeOutboxRelay(ctx).catch((err) => log.debug({ err: String(err) }, 'wake'));
  log.debug({ orderId, fact: fact.type, ...('reason' in fact ? { reason: fact.reason } : {}) }, 'order told');
}

/**
 * The order's own step for a payment fact, run by the payment actor (see tellOrder); false when it
 * could not run (the fact then goes as a notice). A fact the order's state does not take is logged:
 * the payment stays as it is, and the sweep offers it again.
 */
function appliedToOrder(
  ctx: AppContext,
  log: Logger,
  orderId: string,
  fact: PaymentFact,
  attempt: number,
): Promise<boolean> {
  const apply = () => applyOrderNotice(ctx, { orderId, event: fact }, noticeJobId(fact, attempt), log);
  // Its own span: the step annotates it with the order's states, as the order worker's job span is.
  return inSpan('apply order fact', { 'shop.order.id': orderId }, apply).then(
    (outcome) => {
      if (outcome === 'ignored') log.warn({ orderId, fact: fact.type }, 'the order ignored a payment fact');
      return true;
    },
    (err: unknown) => {
      log.warn(
        { err: String(err), orderId, fact: fact.type },
        'fact not applied to the order; sent as a notice',
      );
      return false;
    },
  );
}
