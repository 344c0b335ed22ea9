import { restOfPayment } from '../../../machines/order.machine';
import { run, sql } from '../../db/sql';
import { uuidv7 } from '../../ids';
import type { PaymentView } from '../../payments/payment-view';
import type { Effect, EffectContext } from './effect-context';

const paymentAggregate = (id: string) => ({ type: 'payment', id });

/** PAY accepted: the payment row exists from this transaction on, and the payment actor is told to capture. */
export const createPayment: Effect = async (e) => {
  if (e.event.type !== 'PAY' || e.command?.name !== 'PAY') return;
  const command = e.command.data;
  e.writes.add(
    sql`insert into payments (id, order_id, user_id, method, amount, status, card_token, idempotency_key, request_hash,
                              refunded_amount, attempts, created_at, updated_at)
        values (${e.event.paymentId}, ${e.order.id}, ${e.order.userId}, ${e.event.method}, ${e.order.total},
                'REQUESTED', ${command.cardToken ?? null}, ${command.idempotencyKey ?? command.commandId},
                ${command.requestHash ?? ''}, 0, 0, ${e.now}, ${e.now})`,
  );
  e.outbox.message(
    'payment',
    'CAPTURE',
    { paymentId: e.event.paymentId },
    { jobId: `capture-${e.event.paymentId}`, aggregateId: e.event.paymentId },
  );
  e.answer = { kind: 'payment', id: e.event.paymentId, result: 'pending' };
  // PAY is answered with the payment as this step writes it (REQUESTED), without reading it back.
  e.view = {
    id: e.event.paymentId,
    orderId: e.order.id,
    userId: e.order.userId,
    method: command.method,
    amount: e.order.total,
    status: 'REQUESTED',
    failureReason: null,
    refundedAmount: 0,
    attempts: 0,
    createdAt: e.now.toISOString(),
    completedAt: null,
  } satisfies PaymentView;
};

export const completePayment: Effect = async (e) => {
  if (e.event.type !== 'PAYMENT_SUCCEEDED') return;
  e.writes.add(
    sql`update payments set status = 'COMPLETED', completed_at = ${e.now}, updated_at = ${e.now}
        where id = ${e.event.paymentId}`,
  );
  e.outbox.event('PAYMENT_SUCCEEDED', paymentAggregate(e.event.paymentId), {
    paymentId: e.event.paymentId,
    orderId: e.order.id,
    orderNo: e.order.orderNo,
    userId: e.order.userId,
    amount: e.event.amount,
  });
};

/** Compensates createPayment: the order is cancelled in the same step (SPEC §3). */
export const failPayment: Effect = async (e) => {
  if (e.event.type !== 'PAYMENT_FAILED') return;
  e.writes.add(
    sql`update payments set status = 'FAILED', failure_reason = ${e.event.reason}, updated_at = ${e.now}
        where id = ${e.event.paymentId}`,
  );
  e.outbox.event('PAYMENT_FAILED', paymentAggregate(e.event.paymentId), {
    paymentId: e.event.paymentId,
    orderId: e.order.id,
    orderNo: e.order.orderNo,
    userId: e.order.userId,
    reason: e.event.reason,
  });
};

interface RefundRequest {
  refundId: string;
  paymentId: string;
  amount: number;
  restock: boolean;
  reason: string | null;
  idempotencyKey: string;
  requestHash: string | null;
  requestedBy: string;
}

/** Records a refund and asks the payment actor to carry it out; nothing when the key was used already. */
async function insertRefund(e: EffectContext, r: RefundRequest): Promise<void> {
  const inserted = await run(
    e.em,
    sql`insert into refunds (id, payment_id, order_id, user_id, requested_by, amount, reason, restock, status,
                             idempotency_key, request_hash, created_at, updated_at)
        values (${r.refundId}, ${r.paymentId}, ${e.order.id}, ${e.order.userId}, ${r.requestedBy}, ${r.amount},
                ${r.reason}, ${r.restock}, 'REQUESTED', ${r.idempotencyKey}, ${r.requestHash}, ${e.now}, ${e.now})
        on conflict (requested_by, idempotency_key) do nothing`,
  );
  if (inserted === 0) return;
  e.outbox.message(
    'payment',
    'REFUND',
    { refundId: r.refundId },
    { jobId: `refund-${r.refundId}`, aggregateId: r.refundId },
  );
}

/** A partial or full refund the buyer or an admin asked for (POST /refunds). */
export const requestRefund: Effect = async (e) => {
  if (e.event.type !== 'REFUND' || e.command?.name !== 'REFUND') return;
  const command = e.command.data;
  await insertRefund(e, {
    refundId: e.event.refundId,
    paymentId: e.after.paymentId!,
    amount: e.event.amount,
    restock: e.event.restock,
    reason: command.reason ?? null,
    idempotencyKey: command.idempotencyKey ?? command.commandId,
    requestHash: command.requestHash,
    requestedBy: command.userId,
  });
  e.answer = { kind: 'refund', id: e.event.refundId, result: 'pending' };
};

/** Cancelling a paid order: everything not yet refunded goes back, and the units return to stock. */
export const requestFullRefund: Effect = async (e) => {
  const amount = restOfPayment(e.before!);
  const command = e.command?.data;
  await insertRefund(e, {
    refundId: uuidv7(),
    paymentId: e.after.paymentId!,
    amount,
    restock: true,
    reason: (command && 'reason' in command && command.reason) || 'USER_CANCELLED',
    idempotencyKey: `cancel-${command?.commandId ?? e.order.id}`,
    requestHash: null,
    requestedBy: command?.userId ?? e.order.userId,
  });
  e.answer = { kind: 'order', id: e.order.id, result: 'pending' };
};

export const recordRefund: Effect = async (e) => {
  if (e.event.type !== 'REFUND_COMPLETED') return;
  const { refundId, paymentId, amount } = e.event;
  e.writes.add(
    sql`update refunds set status = 'REFUNDED', completed_at = ${e.now}, updated_at = ${e.now} where id = ${refundId}`,
  );
  e.writes.add(
    sql`update payments set refunded_amount = refunded_amount + ${amount},
               status = case when refunded_amount + ${amount} >= amount then 'REFUNDED' else 'PARTIALLY_REFUNDED' end,
               updated_at = ${e.now}
        where id = ${paymentId}`,
  );
  e.outbox.event('REFUND_COMPLETED', paymentAggregate(paymentId), {
    refundId,
    paymentId,
    orderId: e.order.id,
    orderNo: e.order.orderNo,
    userId: e.order.userId,
    amount,
  });
};

/** The payment actor gave up on a refund: it waits for staff (MANUAL), loudly. */
export const failRefund: Effect = async (e) => {
  if (e.event.type !== 'REFUND_FAILED') return;
  e.writes.add(
    sql`update refunds set status = 'MANUAL', failure_reason = 'gateway refused the refund after retries',
               updated_at = ${e.now}
        where id = ${e.event.refundId}`,
  );
};

/**
 * A capture that landed where no money may stay (a cancelled order, or a second payment): it is
 * recorded as completed and refunded in full at once. The refund key is fixed per payment, so a
 * repeated notice refunds once.
 */
export const refundLateCapture: Effect = async (e) => {
  if (e.event.type !== 'PAYMENT_SUCCEEDED') return;
  const { paymentId, amount } = e.event;
  e.writes.add(
    sql`update payments set status = 'COMPLETED', failure_reason = null, completed_at = coalesce(completed_at, ${e.now}),
               updated_at = ${e.now}
        where id = ${paymentId} and status in ('REQUESTED', 'PROCESSING', 'FAILED')`,
  );
  await insertRefund(e, {
    refundId: uuidv7(),
    paymentId,
    amount,
    restock: false,
    reason: 'LATE_CAPTURE',
    idempotencyKey: `late-capture-${paymentId}`,
    requestHash: null,
    requestedBy: e.order.userId,
  });
};
