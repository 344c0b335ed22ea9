import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventObject } from 'xstate';
import type { OrderEffectName, OrderEffectParams, OrderEvent } from '../../machines/order.machine';
import type { OrderSnapshot } from '../../machines/order-snapshot';
import type { DomainOutcome } from '../commands/outcome';
import type { OutcomeView } from '../commands/outcome-view';
import { type DoneReceipt, doneReceiptsStatement } from '../commands/receipts';
import type { StepResult } from '../commands/run-command';
import { WriteBatch } from '../db/write-batch';
import type { OrderCommandMessage } from '../messaging/messages';
import { ORDER_TIMERS_DUE } from '../messaging/messages';
import { Outbox } from '../messaging/outbox';
import { bucketEnd, type TimerBucket } from '../messaging/timer-buckets';
import { orderEffects } from './effects';
import type { EffectContext, OrderEffects, OrderFacts } from './effects/effect-context';
import { type StockLine, StockPlan } from './effects/stock-plan';
import { interpretActions, type Timer } from './machine-actions';
import {
  insertOrders,
  insertTransitions,
  type NewOrder,
  type OrderRecord,
  saveOrder,
  type TransitionRow,
} from './order-store';
import { newOrderView } from './order-view';

/** The machine's delays, the deterministic job ids of their timeouts, and their names in the history. */
export const ORDER_TIMERS = {
  paymentWindow: { jobPrefix: 'expire', eventName: 'EXPIRE' },
  autoConfirmDelay: { jobPrefix: 'confirm', eventName: 'AUTO_CONFIRM' },
} as const satisfies Record<string, { jobPrefix: string; eventName: string }>;
export type OrderTimerName = keyof typeof ORDER_TIMERS;

/** `xstate.after.paymentWindow.…` is recorded as EXPIRE; everything else under its own name. */
function historyEventName(event: EventObject): string {
  const delay = /^xstate\.after\.([^.]+)\./.exec(event.type)?.[1];
  if (delay) return ORDER_TIMERS[delay as OrderTimerName]?.eventName ?? event.type;
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

/** What a prepared step will write: its snapshot row, history row, receipt and answer. */
export interface PreparedStep {
  step: Step;
  answer: DomainOutcome;
  stock: StockPlan;
  /** Products whose cached views are stale for another reason than stock (see EffectContext). */
  staleProducts: Set<string>;
  transition: TransitionRow;
  receipt: DoneReceipt | undefined;
  timers: TimerBucket[];
  /** The answer's view as committed, when the step knows it (a new order, a new payment). */
  view: OutcomeView | undefined;
}

/**
 * Runs a step's effects (and names its timers' buckets), into `outbox` and `writes` (which
 * the caller may share between steps); nothing is sent yet. The order, history and receipt rows are
 * returned for the caller to write, alone (commitStep) or with other steps' (the placement batch).
 */
export async function prepareStep(
  em: EntityManager,
  step: Step,
  outbox: Outbox,
  writes: WriteBatch,
): Promise<PreparedStep> {
  const { effects, timers } = interpretActions(step.actions);
  const facts = orderFacts(step.order);
  const stock = new StockPlan();
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
    staleProducts: new Set<string>(),
    answer: undefined as DomainOutcome | undefined,
    view: undefined as OutcomeView | undefined,
  };
  for (const effect of effects) await runEffect(e, effect);

  const answer: DomainOutcome = e.answer ?? {
    kind: 'order',
    id: facts.id,
    result: 'items' in step.order ? 'created' : 'updated',
  };
  const c = step.command?.data;
  return {
    step,
    view: newOrderViewOf(step) ?? e.view,
    timers: timerBuckets(timers, step.now),
    answer,
    stock,
    staleProducts: e.staleProducts,
    transition: {
      orderId: facts.id,
      from: step.before,
      to: step.next,
      event: historyEventName(step.event),
      messageId: step.messageId,
      at: step.now,
    },
    receipt: c && {
      commandId: c.commandId,
      userId: c.userId,
      type: historyEventName(step.event),
      idempotencyKey: c.idempotencyKey,
      requestHash: c.requestHash,
      outcome: answer,
    },
  };
}

/**
 * Persists one machine step in the caller's transaction: effects, the snapshot (compare-and-set), one
 * history row, the outbox rows, the command receipt — and the inventory changes last, so hot stock
 * rows are locked only until commit. Its timeouts come back as time buckets, added after commit.
 */
export async function commitStep(em: EntityManager, step: Step): Promise<StepResult> {
  const outbox = new Outbox();
  const writes = new WriteBatch();
  const prepared = await prepareStep(em, step, outbox, writes);
  if ('version' in step.order) saveOrder(writes, step.order, step.next, step.now);
  else insertOrders(writes, [{ order: step.order, snapshot: step.next }], step.now);
  insertTransitions(writes, [prepared.transition]);
  outbox.writeTo(writes, step.now);
  if (prepared.receipt) writes.add(doneReceiptsStatement([prepared.receipt], step.now));
  // The batch goes out with the stock changes last (a single-line reservation rides in it).
  const { stock } = prepared;
  await stock.apply(em, step.order.id, writes);
  return {
    answer: prepared.answer,
    touchedProducts: [...new Set([...stock.touched, ...prepared.staleProducts])],
    stockChanges: stock.availableChanges,
    outboxRows: outbox.size,
    outboxMessages: outbox.messageCount,
    view: prepared.view,
    timers: prepared.timers,
  };
}

/** A new order's answer is what its step wrote: rendered from memory, not read back. */
const newOrderViewOf = (step: Step) =>
  'items' in step.order ? newOrderView(step.order, step.next, step.now) : undefined;

function runEffect<K extends OrderEffectName>(
  e: EffectContext,
  effect: { type: K; params: OrderEffectParams[K] },
) {
  const effects: OrderEffects = orderEffects;
  return effects[effect.type](e, effect.params);
}

/**
 * The machine's `after` decides when; a timer becomes "a delayed job exists for its due bucket"
 * (`expire-at-{second}`, `confirm-at-m{minute}`, order-timers.ts), added after commit. Leaving the state
 * needs nothing: the bucket's handler asks the machine, whose guards refuse a timer no longer due.
 */
function timerBuckets(timers: Timer[], now: Date): TimerBucket[] {
  return timers.flatMap((timer) => {
    if (timer.kind !== 'schedule') return [];
    const delay = timer.delayName as OrderTimerName;
    if (!ORDER_TIMERS[delay]) throw new Error(`No time bucket for the machine's delay '${timer.delayName}'`);
    const { end, width } = bucketEnd(now.getTime() + timer.delayMs);
    const jobId = `${ORDER_TIMERS[delay].jobPrefix}-at-${width === 'second' ? end / 1000 : `m${end / 60_000}`}`;
    return [
      { queue: 'order', name: ORDER_TIMERS_DUE, data: { delay }, jobId, dueAt: end } satisfies TimerBucket,
    ];
  });
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
