import type { EntityManager } from '@mikro-orm/postgresql';
import type { OrderContext } from '../../machines/order.machine';
import { WriteBatch } from '../../src/db/write-batch';
import { uuidv7 } from '../../src/ids';
import { Outbox } from '../../src/messaging/outbox';
import type { Effect, EffectContext } from '../../src/orders/effects/effect-context';
import { StockPlan } from '../../src/orders/effects/stock-plan';
import type { TestShop } from './test-shop';

export interface OrderStub {
  id: string;
  userId: string;
  userCouponId: string | null;
}

export const orderStub = (userId: string, userCouponId: string | null): OrderStub => ({
  id: uuidv7(),
  userId,
  userCouponId,
});

/** What an effect sees inside a machine step, for an order that needs no row of its own. */
export function effectContext(em: EntityManager, order: OrderStub, now: Date): EffectContext {
  return {
    em,
    now,
    order: { ...order, orderNo: '2026010100000001', subtotal: 20_000, discount: 0, total: 20_000 },
    event: { type: 'CANCEL', at: now.getTime() },
    before: null,
    after: {} as OrderContext,
    command: undefined,
    placement: undefined,
    outbox: new Outbox(),
    writes: new WriteBatch(),
    stock: new StockPlan(),
    staleProducts: new Set(),
    answer: undefined,
  };
}

/** Runs an effect in its own transaction and writes the outbox rows it asked for, as a step would. */
export async function runEffect(shop: TestShop, effect: Effect, order: OrderStub, now = new Date()) {
  return shop.ctx.orm.em.fork().transactional(async (em) => {
    const e = effectContext(em, order, now);
    await effect(e, undefined);
    await e.writes.flush(em);
    await e.outbox.flush(em, now);
    return e.outbox.rows;
  });
}
