import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';
import { loadConfig } from '../../../src/config';
import { createContext } from '../../../src/context';
import { query, sql } from '../../../src/db/sql';
import { uuidv7 } from '../../../src/ids';
import { createLogger } from '../../../src/logger';
import type { PlaceOrderCommand } from '../../../src/messaging/messages';
import type { StepResult } from '../../../workers/order/commit-step';
import { businessDay, ensureOrderSequence } from '../../../workers/order/order-number';
import { placeOrder } from '../../../workers/order/place-order';

export interface CapturedStatement {
  text: string;
  values: unknown[];
}

/** The placement transaction exactly as the worker sends it, and the values it was sent with. */
export interface CapturedPlacement {
  statements: CapturedStatement[];
  /** Values that identify this one placement; a replay gives each transaction fresh ones. */
  userId: string;
  productId: string;
  orderNo: string;
  /** The `now` of the placement: every timestamp parameter derived from it. */
  placedAt: Date;
}

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
    return { statements, userId: buyerId, productId, orderNo: order!.order_no, placedAt: now };
  } finally {
    await ctx.close();
  }
}

/**
 * Every statement sent while `work` runs, kept only from the connection that opened the transaction
 * and only from its BEGIN to its COMMIT (the ORM may check the database on first use, elsewhere).
 */
async function recordTransaction(work: () => Promise<unknown>): Promise<CapturedStatement[]> {
  const sent: (CapturedStatement & { client: unknown })[] = [];
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const [first, second] = args;
    if (typeof first === 'string') {
      sent.push({ client: this, text: first, values: Array.isArray(second) ? [...second] : [] });
    } else if (first && typeof first === 'object' && 'text' in first) {
      const config = first as { text: string; values?: unknown[] };
      const values = config.values ?? (Array.isArray(second) ? second : []);
      sent.push({ client: this, text: config.text, values: [...values] });
    }
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    prototype.query = original;
  }
  const begin = sent.findIndex((s) => /^\s*(begin|start transaction)\b/i.test(s.text));
  if (begin < 0) throw new Error('the placement sent no BEGIN: nothing to replay');
  const client = sent[begin]!.client;
  const ours = sent.slice(begin).filter((s) => s.client === client);
  const commit = ours.findIndex((s) => /^\s*commit\b/i.test(s.text));
  if (commit < 0) throw new Error('the placement transaction did not COMMIT');
  return ours.slice(0, commit + 1).map(({ text, values }) => ({ text, values }));
}
