import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventObject } from 'xstate';
import type { OrderEffectName, OrderEffectParams, OrderEvent } from '../../machines/order.machine';
import type { OrderSnapshot } from '../../machines/order-snapshot';
import type { DomainOutcome } from '../commands/outcome';
import { doneReceiptStatement } from '../commands/receipts';
import type { StepResult } from '../commands/run-command';
import { WriteBatch } from '../db/write-batch';
import type { OrderCommandMessage } from '../messaging/messages';
import { Outbox } from '../messaging/outbox';
import { orderEffects } from './effects';
import type { EffectContext, OrderEffects, OrderFacts } from './effects/effect-context';
import { type StockLine, StockPlan } from './effects/stock-plan';
import { interpretActions, type Timer } from './machine-actions';
import { insertOrder, insertTransition, type NewOrder, type OrderRecord, saveOrder } from './order-store';
import { newOrderView } from './order-view';

/** The machine's delays, the deterministic job ids of their timeouts, and their names in the history. */
export const ORDER_TIMERS: Record<string, { jobPrefix: string; eventName: string }> = {
  paymentWindow: { jobPrefix: 'expire', eventName: 'EXPIRE' },
  autoConfirmDelay: { jobPrefix: 'confirm', eventName: 'AUTO_CONFIRM' },
};

export const timerJobId = (delayName: string, orderId: string) =>
  `${ORDER_TIMERS[delayName]?.jobPrefix ?? delayName}-${orderId}`;

/** `xstate.after.paymentWindow.…` is recorded as EXPIRE; everything else under its own name. */
export function historyEventName(event: EventObject): string {
  const delay = /^xstate\.after\.([^.]+)\./.exec(event.type)?.[1];
  if (delay) return ORDER_TIMERS[delay]?.eventName ?? event.type;
  return event.type === 'xstate.init' ? 'PLACE' : event.type;
}

export interface Step {
  now: Date;
  /** The stored order, or the new one being placed. */
  order: OrderRecord | NewOrder;
  before: OrderSnapshot | null;
  next: OrderSnapshot;
  event: OrderEvent | EventObject;
  actions: readonly { type: string; params?: unknown }[];
  messageId: string | null;
  command: OrderCommandMessage | undefined;
  placement?: { lines: StockLine[] };
}

export type { StepResult };

/**
 * Persists one machine step in the caller's transaction: effects, timeouts as outbox messages, the
 * snapshot (compare-and-set), one history row, the outbox rows, the command receipt — and the
 * inventory changes last, so hot stock rows are locked only until commit.
 */
export async function commitStep(em: EntityManager, step: Step): Promise<StepResult> {
  const { effects, timers } = interpretActions(step.actions);
  const facts = orderFacts(step.order);
  const outbox = new Outbox();
  const stock = new StockPlan();
  const writes = new WriteBatch();
  const e = {
    em,
    now: step.now,
    order: facts,
    event: step.event as OrderEvent,
    before: step.before?.context ?? null,
    after: step.next.context,
    command: step.command,
    placement: step.placement,
    outbox,
    writes,
    stock,
    answer: undefined as DomainOutcome | undefined,
  };
  for (const effect of effects) await runEffect(e, effect);
  scheduleTimers(outbox, facts.id, timers, step.now);

  if ('version' in step.order) saveOrder(writes, step.order, step.next, step.now);
  else insertOrder(writes, step.order, step.next, step.now);
  insertTransition(writes, {
    orderId: facts.id,
    from: step.before,
    to: step.next,
    event: historyEventName(step.event),
    messageId: step.messageId,
    at: step.now,
  });
  outbox.writeTo(writes, step.now);

  const answer: DomainOutcome = e.answer ?? {
    kind: 'order',
    id: facts.id,
    result: 'items' in step.order ? 'created' : 'updated',
  };
  if (step.command) {
    const c = step.command.data;
    writes.add(
      doneReceiptStatement(
        {
          commandId: c.commandId,
          userId: c.userId,
          type: commandType(step),
          idempotencyKey: c.idempotencyKey,
          requestHash: c.requestHash,
          outcome: answer,
        },
        step.now,
      ),
    );
  }
  // The batch goes out with the stock changes last (a single-line reservation rides in it).
  await stock.apply(em, facts.id, writes);
  // A new order's answer is what this step wrote: rendered from memory, not read back.
  const view = 'items' in step.order ? newOrderView(step.order, step.next, step.now) : undefined;
  return {
    answer,
    touchedProducts: [...stock.touched],
    stockChanges: stock.availableChanges,
    outboxRows: outbox.size,
    view,
  };
}

function runEffect<K extends OrderEffectName>(
  e: EffectContext,
  effect: { type: K; params: OrderEffectParams[K] },
) {
  const effects: OrderEffects = orderEffects;
  return effects[effect.type](e, effect.params);
}

function commandType(step: Step): string {
  return historyEventName(step.event);
}

function scheduleTimers(outbox: Outbox, orderId: string, timers: Timer[], now: Date) {
  for (const timer of timers) {
    const jobId = timerJobId(timer.delayName, orderId);
    if (timer.kind === 'schedule') {
      outbox.message(
        'order',
        'NOTICE',
        { orderId, event: timer.event },
        { jobId, aggregateId: orderId, deliverAt: new Date(now.getTime() + timer.delayMs) },
      );
    } else {
      outbox.cancelMessage('order', jobId, orderId);
    }
  }
}

function orderFacts(order: OrderRecord | NewOrder): OrderFacts {
  return {
    id: order.id,
    orderNo: order.orderNo,
    userId: order.userId,
    subtotal: order.subtotal,
    discount: order.discount,
    total: order.total,
    userCouponId: order.userCouponId,
  };
}
