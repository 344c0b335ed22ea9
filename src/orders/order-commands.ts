import type { EntityManager } from '@mikro-orm/postgresql';
import { type EventObject, transition } from 'xstate';
import { type OrderEvent, orderMachine } from '../../machines/order.machine';
import { rejectionFor, statusOf } from '../../machines/order-snapshot';
import { query, run, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import type {
  AnyOrderCommand,
  CancelOrderCommand,
  OrderCommandName,
  PayOrderCommand,
  RefundPaymentCommand,
} from '../messaging/messages';
import { commitStep, type StepResult } from './commit-transition';
import { loadOrder, type OrderRecord } from './order-store';

/** Turns a client command into the machine event it stands for, against the order as loaded. */
function eventFor(
  name: OrderCommandName,
  command: AnyOrderCommand,
  order: OrderRecord,
  at: number,
): OrderEvent {
  switch (name) {
    case 'CANCEL':
      return { type: 'CANCEL', reason: (command as CancelOrderCommand).reason, at };
    case 'CONFIRM':
      return { type: 'CONFIRM', at };
    case 'PAY': {
      const pay = command as PayOrderCommand;
      return { type: 'PAY', paymentId: uuidv7(), method: pay.method, at };
    }
    case 'REFUND': {
      const refund = command as RefundPaymentCommand;
      const c = order.snapshot.context;
      const rest = c.total - c.refundedAmount - c.pendingRefundAmount;
      return {
        type: 'REFUND',
        refundId: uuidv7(),
        amount: refund.amount ?? rest,
        // API.md: restock defaults to true for a PAID order, false for a CONFIRMED one.
        restock: refund.restock ?? statusOf(order.snapshot) === 'PAID',
        at,
      };
    }
    default:
      throw new Error(`${name} is not a command on an existing order`);
  }
}

/** Who may send what: the buyer everything on their own orders; an admin may cancel and refund any. */
function mayCommand(name: OrderCommandName, command: AnyOrderCommand, order: OrderRecord): boolean {
  if (command.userId === order.userId) return true;
  return command.role === 'ADMIN' && (name === 'CANCEL' || name === 'REFUND');
}

async function orderIdOfPayment(em: EntityManager, paymentId: string, command: RefundPaymentCommand) {
  const [payment] = await query<{ order_id: string; user_id: string }>(
    em,
    sql`select order_id, user_id from payments where id = ${paymentId}`,
  );
  if (!payment || (payment.user_id !== command.userId && command.role !== 'ADMIN')) {
    throw new DomainError('PAYMENT_NOT_FOUND');
  }
  return payment.order_id;
}

/** A client command on an existing order: refused with the API error the machine's state implies. */
export async function commandOrder(
  em: EntityManager,
  name: OrderCommandName,
  command: AnyOrderCommand,
  now: Date,
): Promise<StepResult> {
  const orderId =
    name === 'REFUND'
      ? await orderIdOfPayment(
          em,
          (command as RefundPaymentCommand).paymentId,
          command as RefundPaymentCommand,
        )
      : (command as CancelOrderCommand).orderId;
  const order = await loadOrder(em, orderId);
  if (!order || !mayCommand(name, command, order)) throw new DomainError('ORDER_NOT_FOUND');
  if (name === 'REFUND' && order.snapshot.context.paymentId !== (command as RefundPaymentCommand).paymentId) {
    throw new DomainError(
      'INVALID_ORDER_TRANSITION',
      'Only the order’s own completed payment can be refunded',
    );
  }
  const event = eventFor(name, command, order, now.getTime());
  if (!order.snapshot.can(event)) throw new DomainError(rejectionFor(order.snapshot, event));
  const [next, actions] = transition(orderMachine, order.snapshot, event);
  return commitStep(em, {
    now,
    order,
    before: order.snapshot,
    next,
    event,
    actions,
    messageId: command.commandId,
    command,
  });
}

/**
 * A fact from another actor or a timeout coming due. Applied at most once (its id is recorded in the
 * same transaction); one the machine does not accept in the order's state changes nothing.
 */
export async function notifyOrder(
  em: EntityManager,
  orderId: string,
  event: EventObject,
  messageId: string,
  now: Date,
): Promise<StepResult | 'duplicate' | 'ignored'> {
  const first = await run(
    em,
    sql`insert into processed_messages (consumer, message_id, processed_at) values ('order', ${messageId}, ${now})
        on conflict do nothing`,
  );
  if (first === 0) return 'duplicate';
  const order = await loadOrder(em, orderId);
  if (!order) return 'ignored';
  const machineEvent = { ...event, at: now.getTime() } as OrderEvent;
  if (!order.snapshot.can(machineEvent)) return 'ignored';
  const [next, actions] = transition(orderMachine, order.snapshot, machineEvent);
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
