import type { EntityManager } from '@mikro-orm/postgresql';
import type {
  OrderContext,
  OrderEffectName,
  OrderEffectParams,
  OrderEvent,
} from '../../../machines/order.machine';
import type { DomainOutcome } from '../../commands/outcome';
import type { OutcomeView } from '../../commands/outcome-view';
import type { WriteBatch } from '../../db/write-batch';
import type { OrderCommandMessage } from '../../messaging/messages';
import type { Outbox } from '../../messaging/outbox';
import type { StockLine, StockPlan } from './stock-plan';

export interface OrderFacts {
  id: string;
  orderNo: string;
  userId: string;
  subtotal: number;
  discount: number;
  total: number;
  userCouponId: string | null;
}

/** Everything an effect may read or add to, inside the transaction of one machine step. */
export interface EffectContext {
  em: EntityManager;
  now: Date;
  order: OrderFacts;
  event: OrderEvent;
  /** Context before the step (null when the order is being placed) and after it. */
  before: OrderContext | null;
  after: OrderContext;
  command: OrderCommandMessage | undefined;
  /** The lines of a new order (placement only). */
  placement: { lines: StockLine[] } | undefined;
  outbox: Outbox;
  /** Writes nobody reads before commit: they leave with the step's other rows in one statement. */
  writes: WriteBatch;
  stock: StockPlan;
  /** Products whose cached views the step makes stale for another reason than stock (their rating). */
  staleProducts: Set<string>;
  /** What the step's command did, when an effect knows better than "the order changed". */
  answer: DomainOutcome | undefined;
  /** The answer's view when the effect knows it as committed (rendered from memory, not read back). */
  view?: OutcomeView | undefined;
}

/** One named effect of the machine: what it does inside the step's transaction, given its parameters. */
export type Effect<P = undefined> = (e: EffectContext, params: P) => Promise<void> | void;

/** Every effect the machine names, each with the parameters the machine gives it. */
export type OrderEffects = { [K in OrderEffectName]: Effect<OrderEffectParams[K]> };

export const orderAggregate = (e: EffectContext) => ({ type: 'order', id: e.order.id });

/** The facts every order event carries: ids, not blobs (consumers read details themselves). */
export const orderEventPayload = (e: EffectContext) => ({
  orderId: e.order.id,
  orderNo: e.order.orderNo,
  userId: e.order.userId,
  total: e.order.total,
});
