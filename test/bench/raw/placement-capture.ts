import type { EntityManager } from '@mikro-orm/postgresql';
import { loadConfig } from '../../../src/config';
import { createContext } from '../../../src/context';
import { query, sql } from '../../../src/db/sql';
import { uuidv7 } from '../../../src/ids';
import { createLogger } from '../../../src/logger';
import type { PlaceOrderCommand } from '../../../src/messaging/messages';
import type { StepResult } from '../../../src/orders/commit-transition';
import { businessDay, ensureOrderSequence } from '../../../src/orders/order-number';
import { placeOrder } from '../../../src/orders/place-order';
import { type CapturedWork, recordTransaction } from './statement-recorder';

/** The placement transaction exactly as the worker sends it, and the values it was sent with. */
export type CapturedPlacement = CapturedWork;

/**
 * Places one order through the worker's own code path — `placeOrder` inside
 * `em.fork().transactional(...)`, as workers/order.worker.ts runs a PLACE command — in this process,
 * against the bench database, while recording every statement and its parameters at the driver
 * (`pg.Client.prototype.query`, which MikroORM and kysely both end in). Recording at the driver rather
 * than copying SQL by hand means the raw ceiling follows the product: add a statement to placement
 * and the replay issues it too. The one order placed here is real and stays in the database.
 */
export async function capturePlacement(
  env: Record<string, string>,
  buyerId: string,
  productId: string,
): Promise<CapturedPlacement> {
  const config = loadConfig({ ...env, WORKERS: 'none', LOG_LEVEL: 'silent' });
  const ctx = await createContext(config, config.databaseUrl!, createLogger(config));
  try {
    const now = new Date();
    const day = businessDay(now, config.timezone);
    await ensureOrderSequence(ctx.orm.em.fork(), day);
    // The same command the HTTP layer enqueues for POST /orders {items} without an Idempotency-Key.
    const command: PlaceOrderCommand = {
      commandId: uuidv7(),
      userId: buyerId,
      role: 'BUYER',
      idempotencyKey: null,
      requestHash: null,
      items: [{ productId, quantity: 1 }],
    };
    let placed: StepResult | undefined;
    const statements = await recordTransaction(async () => {
      placed = await ctx.orm.em
        .fork()
        .transactional((tx: EntityManager) => placeOrder(tx, config, command, now, day));
    });
    const [order] = await query<{ order_no: string }>(
      ctx.orm.em.fork(),
      sql`select order_no from orders where id = ${placed!.answer.id}`,
    );
    return {
      statements,
      setup: [],
      userId: buyerId,
      productId,
      orderNo: order!.order_no,
      clock: { from: now, to: now },
      generated: [],
    };
  } finally {
    await ctx.close();
  }
}
