import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import pg from 'pg';
import { jwtTokens } from '../../../src/auth/tokens';
import { commandIdFor, requestHashOf } from '../../../src/commands/receipts';
import { loadConfig } from '../../../src/config';
import { type AppContext, createContext } from '../../../src/context';
import { migrate } from '../../../src/db/orm';
import { query, sql } from '../../../src/db/sql';
import { uuidv7 } from '../../../src/ids';
import { createLogger } from '../../../src/logger';
import {
  PAYMENT_CAPTURE,
  type PayOrderCommand,
  type PlaceOrderCommand,
} from '../../../src/messaging/messages';
import { paymentJobOptions } from '../../../src/messaging/queues';
import { commandOrder } from '../../../src/orders/order-commands';
import { businessDay, ensureOrderSequence } from '../../../src/orders/order-number';
import { placeOrder } from '../../../src/orders/place-order';
import { capturePayment } from '../../../src/payments/capture';
import { databaseUrl, withAdminClient } from '../../support/databases';
import { Seeder } from '../support/seed';
import {
  type CapturedStatement,
  type CapturedWork,
  recordAll,
  recordTransaction,
} from './statement-recorder';

/** A whole checkout as the actors send it, step by step (the steps' statements, in this order). */
export interface CapturedCheckout extends CapturedWork {
  steps: { name: string; statements: number; transactions: number }[];
}

/** Captures made by this process (each gets a scratch database of its own). */
let captures = 0;

/**
 * Runs one whole card checkout through the actors' own code, in this process, recording every
 * statement at the driver (see statement-recorder.ts):
 * 1. PLACE — `placeOrder` in a transaction, as the order actor runs it;
 * 2. PAY — `commandOrder(tx, 'PAY', …)` in a transaction (payment row, CAPTURE message, order step);
 * 3. CAPTURE — `capturePayment`, as the payment actor runs the CAPTURE job: the attempt's payment
 *    update, the mock gateway's idempotent ledger insert (its own autocommit statement, as a remote
 *    PG's would be), and the PAYMENT_SUCCEEDED step the payment actor applies to the order itself
 *    (`notifyOrder` in a transaction: payment COMPLETED, order PAID, stock committed, events, timer).
 * The relay's deliveries between the steps and the reads around them (receipts, replies, the
 * payment actor's Redis wake-ups) are not part of it.
 *
 * It runs on a scratch database of its own, migrated here: on the bench database the running shop's
 * relay would deliver the CAPTURE message to its own workers, which would race these
 * steps for the same payment and order. The statements are the same on any database of the schema.
 */
export async function captureCheckout(
  env: Record<string, string>,
  benchDatabase: string,
): Promise<CapturedCheckout> {
  // A name of its own per capture: the order-number sequence is remembered per database URL, so a
  // second capture in one run (checkout, then checkout-stream) must not reuse the first one's name.
  captures += 1;
  const name = `${benchDatabase}_checkout${captures > 1 ? captures : ''}`;
  await withAdminClient((client) => client.query(`create database "${name}"`));
  const url = databaseUrl(name);
  const redisPrefix = `${env.REDIS_PREFIX ?? 'bench'}-capture`;
  const config = loadConfig({
    ...env,
    DATABASE_URL: url,
    REDIS_PREFIX: redisPrefix,
    DATABASE_POOL_SIZE: '4',
    WORKERS: 'none',
    LOG_LEVEL: 'silent',
  });
  const log = createLogger(config);
  let ctx: AppContext | undefined;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    ctx = await createContext(config, url, log);
    await migrate(ctx.orm);
    const seed = new Seeder(pool, jwtTokens(config.jwtSecret, 60), redisPrefix);
    const [buyer] = await seed.buyers(1);
    // The seeder's default price, as every bench product: replayed amounts match the products they name.
    const [productId] = await seed.products(1, { stock: 1_000_000 });
    return await checkoutOnce(ctx, buyer!.id, productId!);
  } finally {
    if (ctx) {
      await deleteKeys(ctx, `${redisPrefix}:*`).catch(() => undefined);
      await ctx.close().catch(() => undefined);
    }
    await pool.end().catch(() => undefined);
    await withAdminClient((client) => client.query(`drop database if exists "${name}" with (force)`));
  }
}

async function checkoutOnce(ctx: AppContext, buyerId: string, productId: string): Promise<CapturedCheckout> {
  const { config } = ctx;
  const from = new Date();
  const day = businessDay(from, config.timezone);
  const setup = (await recordAll(() => ensureOrderSequence(ctx.orm.em.fork(), day))).filter((s) =>
    /create sequence/i.test(s.text),
  );
  const steps: CapturedCheckout['steps'] = [];
  const statements: CapturedStatement[] = [];
  const keep = (step: string, recorded: CapturedStatement[]) => {
    steps.push({ name: step, statements: recorded.length, transactions: transactionsIn(recorded) });
    statements.push(...recorded);
  };

  // 1. PLACE, the command POST /orders {items} enqueues.
  const place: PlaceOrderCommand = {
    commandId: uuidv7(),
    userId: buyerId,
    role: 'BUYER',
    idempotencyKey: null,
    requestHash: null,
    items: [{ productId, quantity: 1 }],
  };
  let orderId = '';
  keep(
    'place',
    await recordTransaction(async () => {
      const placed = await transaction(ctx, (tx) => placeOrder(tx, config, place, from, day));
      orderId = placed.answer.id;
    }),
  );

  // 2. PAY, the command POST /payments enqueues (its command id derived from the Idempotency-Key).
  const idempotencyKey = randomUUID();
  const request = { orderId, method: 'CARD' as const, cardToken: 'tok_ok' };
  const pay: PayOrderCommand = {
    commandId: commandIdFor(buyerId, 'PAY', idempotencyKey),
    userId: buyerId,
    role: 'BUYER',
    idempotencyKey,
    requestHash: requestHashOf({ name: 'PAY', ...request }),
    ...request,
  };
  let paymentId = '';
  keep(
    'pay',
    await recordTransaction(async () => {
      const paid = await transaction(ctx, (tx) => commandOrder(tx, 'PAY', pay, new Date()));
      paymentId = paid.answer.id;
    }),
  );

  // 3. CAPTURE, as the payment actor's mailbox delivers it.
  const job = {
    id: `capture-${paymentId}`,
    name: PAYMENT_CAPTURE,
    data: { paymentId },
    attemptsMade: 0,
    opts: paymentJobOptions(config),
  } as unknown as Job;
  let captured = '';
  keep(
    'capture',
    await recordAll(async () => {
      captured = await capturePayment(ctx, job, { paymentId }, ctx.log);
    }),
  );
  if (captured !== 'succeeded') throw new Error(`the captured payment ended '${captured}', not 'succeeded'`);

  const to = new Date();

  const [order] = await query<{ status: string; order_no: string }>(
    ctx.orm.em.fork(),
    sql`select status, order_no from orders where id = ${orderId}`,
  );
  if (order?.status !== 'PAID') throw new Error(`the captured checkout left the order ${order?.status}`);
  return {
    statements,
    setup,
    userId: buyerId,
    productId,
    orderNo: order.order_no,
    clock: { from, to },
    generated: [pay.commandId],
    steps,
  };
}

/** Each BEGIN … COMMIT counts once, and so does each statement outside one (autocommit). */
function transactionsIn(statements: CapturedStatement[]): number {
  let count = 0;
  let open = false;
  for (const { text } of statements) {
    if (/^\s*(begin|start transaction)\b/i.test(text)) {
      open = true;
      count++;
    } else if (/^\s*(commit|rollback)\b/i.test(text)) open = false;
    else if (!open) count++;
  }
  return count;
}

const transaction = <T>(ctx: AppContext, work: (tx: EntityManager) => Promise<T>): Promise<T> =>
  ctx.orm.em.fork().transactional(work);

async function deleteKeys(ctx: AppContext, pattern: string) {
  let cursor = '0';
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) await ctx.redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
