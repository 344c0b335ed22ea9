import type { EntityManager } from '@mikro-orm/postgresql';
import { type OrderEvent, restOfPayment } from '../../machines/order.machine';
import { rejectionFor, statusOf } from '../../machines/order-snapshot';
import { orderStep } from '../../machines/order-steps';
import { db } from '../db/database';
import { DomainError } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import type { BatchedOrderCommand, JobData, OrderNotice, RefundPaymentCommand } from '../messaging/messages';
import { commitStep, type StepResult } from './commit-transition';
import { loadOrder, type OrderRecord, recordAndLoadOrder } from './order-store';

/** A client command on an order that exists already (PLACE creates one: place-order.ts). */
export type ExistingOrderCommand = BatchedOrderCommand;

/** Turns a client command into the machine event it stands for, against the order as loaded. */
function eventFor(message: ExistingOrderCommand, order: OrderRecord, at: number): OrderEvent {
  switch (message.name) {
    case 'CANCEL':
      return { type: 'CANCEL', reason: message.data.reason, at };
    case 'CONFIRM':
      return { type: 'CONFIRM', at };
    case 'PAY':
      return { type: 'PAY', paymentId: uuidv7(), method: message.data.method, at };
    case 'REFUND': {
      const rest = restOfPayment(order.snapshot.context);
      return {
        type: 'REFUND',
        refundId: uuidv7(),
        amount: message.data.amount ?? rest,
        restock: restockOf(message.data, order),
        at,
      };
    }
  }
}

/**
 * Whether a refund returns its units. API.md: true for a PAID order, false for a CONFIRMED one, unless
 * the request says otherwise — which only an ADMIN may: a buyer's own choice let them refund a PAID
 * order without returning its units (stock gone for nothing) or a CONFIRMED one with them (units they
 * kept back on sale). Staff decide, e.g. goods lost in transit, or a return that arrived whole.
 */
function restockOf(data: RefundPaymentCommand, order: OrderRecord): boolean {
  const byDefault = statusOf(order.snapshot) === 'PAID';
  return data.role === 'ADMIN' ? (data.restock ?? byDefault) : byDefault;
}

/** Who may send what: the buyer everything on their own orders; an admin may cancel and refund any. */
function mayCommand(message: ExistingOrderCommand, order: OrderRecord): boolean {
  if (message.data.userId === order.userId) return true;
  return message.data.role === 'ADMIN' && (message.name === 'CANCEL' || message.name === 'REFUND');
}

async function orderIdOfPayment(em: EntityManager, command: RefundPaymentCommand) {
  const payment = await db(em)
    .selectFrom('payments')
    .select(['order_id', 'user_id'])
    .where('id', '=', command.paymentId)
    .executeTakeFirst();
  if (!payment || (payment.user_id !== command.userId && command.role !== 'ADMIN')) {
    throw new DomainError('PAYMENT_NOT_FOUND');
  }
  return payment.order_id;
}

/**
 * A client command on an existing order — load, authorize, ask the machine (`can`), `transition`,
 * commit — refused with the API error the machine's state implies.
 */
export function commandOrder<N extends ExistingOrderCommand['name']>(
  em: EntityManager,
  name: N,
  command: JobData<'order', N>,
  now: Date,
): Promise<StepResult> {
  // The name and its data travel together from here on, so narrowing on the name types the data.
  return commandExistingOrder(em, { name, data: command } as ExistingOrderCommand, now);
}

async function commandExistingOrder(
  em: EntityManager,
  message: ExistingOrderCommand,
  now: Date,
): Promise<StepResult> {
  const orderId = message.name === 'REFUND' ? await orderIdOfPayment(em, message.data) : message.data.orderId;
  const order = await loadOrder(em, orderId);
  if (!order || !mayCommand(message, order)) throw new DomainError('ORDER_NOT_FOUND');
  if (message.name === 'REFUND' && order.snapshot.context.paymentId !== message.data.paymentId) {
    throw new DomainError('INVALID_ORDER_TRANSITION', {
      en: 'Only the order’s own completed payment can be refunded',
      ko: '이 주문의 완료된 결제만 환불할 수 있습니다',
    });
  }
  const event = eventFor(message, order, now.getTime());
  if (!order.snapshot.can(event)) throw new DomainError(rejectionFor(order.snapshot, event));
  const [next, actions] = orderStep(order.snapshot, event);
  return commitStep(em, {
    now,
    order,
    before: order.snapshot,
    next,
    event,
    actions,
    messageId: message.data.commandId,
    command: message,
  });
}

/**
 * A refund's outcome reported under two ids (a REFUND job run again, a re-offer by the payment sweep
 * while its first outcome waited as a notice) is one outcome: the machine counts refunded amounts, not
 * refunds, so the refund row — locked until this transaction ends — says whether it was applied. A
 * MANUAL refund may still complete (a late answer from the gateway).
 */
async function refundOutcomeApplied(em: EntityManager, event: OrderNotice['event']): Promise<boolean> {
  if ((event.type !== 'REFUND_COMPLETED' && event.type !== 'REFUND_FAILED') || !('refundId' in event))
    return false;
  const settled = event.type === 'REFUND_COMPLETED' ? ['REFUNDED'] : ['REFUNDED', 'MANUAL'];
  const [refund] = await db(em)
    .selectFrom('refunds')
    .select('status')
    .where('id', '=', event.refundId)
    .forUpdate()
    .execute();
  return refund !== undefined && settled.includes(refund.status);
}

/**
 * A fact from another actor or a timeout coming due. Applied at most once (its id is recorded in the
 * same transaction; a refund's outcome once whatever its id); one the machine does not accept in the
 * order's state changes nothing.
 */
export async function notifyOrder(
  em: EntityManager,
  orderId: string,
  event: OrderNotice['event'],
  messageId: string,
  now: Date,
): Promise<StepResult | 'duplicate' | 'ignored'> {
  if (await refundOutcomeApplied(em, event)) return 'duplicate';
  const order = await recordAndLoadOrder(em, messageId, orderId, now);
  if (order === 'duplicate') return 'duplicate';
  if (!order) return 'ignored';
  const machineEvent = { ...event, at: now.getTime() } as OrderEvent;
  if (!order.snapshot.can(machineEvent)) return 'ignored';
  const [next, actions] = orderStep(order.snapshot, machineEvent);
  return commitStep(em, {
    now,
    order,
    before: order.snapshot,
    next,
    event: machineEvent,
    actions,
    messageId,
    command: undefined,
  });
}
