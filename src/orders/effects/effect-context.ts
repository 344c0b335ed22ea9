import type { EntityManager } from '@mikro-orm/postgresql';
import type { OrderContext, OrderEvent } from '../../../machines/order.machine';
import type { Outbox } from '../../db/outbox';
import type { WriteBatch } from '../../db/write-batch';
import type { AnyOrderCommand } from '../../messaging/messages';
import type { StockLine, StockPlan } from './stock-plan';

export type { Answer };

export interface OrderFacts {
  id: string;
  orderNo: string;
  userId: string;
  subtotal: number;
  discount: number;
  total: number;
  userCouponId: string | null;
}

import type { Answer } from '../../commands/run-command';

/** Everything an effect may read or add to, inside the transaction of one machine step. */
export interface EffectContext {
  em: EntityManager;
  now: Date;
  order: OrderFacts;
  event: OrderEvent;
  /** Context before the step (null when the order is being placed) and after it. */
  before: OrderContext | null;
  after: OrderContext;
  command: AnyOrderCommand | undefined;
  /** The lines of a new order (placement only). */
  placement: { lines: StockLine[] } | undefined;
  outbox: Outbox;
  /** Writes nobody reads before commit: they leave with the step's other rows in one statement. */
  writes: WriteBatch;
  stock: StockPlan;
  answer: Answer | undefined;
}

export type Effect = (e: EffectContext, params: any) => Promise<void> | void;

export const orderAggregate = (e: EffectContext) => ({ type: 'order', id: e.order.id });

/** The facts every order event carries: ids, not blobs (consumers read details themselves). */
export const orderEventPayload = (e: EffectContext) => ({
  orderId: e.order.id,
  orderNo: e.order.orderNo,
  userId: e.order.userId,
  total: e.order.total,
});
