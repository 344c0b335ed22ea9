import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { findJob } from '../../src/messaging/queues';
import { orderWorker } from '../../workers/order.worker';
import { paymentWorker } from '../../workers/payment.worker';
import { type RunningWorker, startWorker, type WorkerDefinition } from '../../workers/runtime';
import { createProduct } from '../support/catalog';
import { waitFor } from '../support/coupons';
import { statementsDuring } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Job data is parsed with the mailbox's schema before anything else runs: a forged or stale payload
// added straight to a queue fails for good (UnrecoverableError, code VALIDATION_ERROR) and never
// reaches SQL.
let shop: TestShop;
let buyer: TestUser;
let seller: TestUser;
const running: RunningWorker[] = [];
beforeAll(async () => {
  shop = await createTestShop();
  buyer = await shop.createUser('BUYER');
  seller = await shop.createUser('SELLER');
  // The real mailbox routers on the real queues, without their sweep schedulers (which query on their own).
  const withoutSchedulers = (def: WorkerDefinition): WorkerDefinition =>
    def.kind === 'queue' ? { ...def, onStart: undefined } : def;
  running.push(await startWorker(shop.ctx, 'order', withoutSchedulers(orderWorker)));
  running.push(await startWorker(shop.ctx, 'payment', withoutSchedulers(paymentWorker)));
});
afterAll(async () => {
  for (const worker of running) await worker.close();
  await shop?.close();
});

const envelope = () => ({
  commandId: uuidv7(),
  userId: buyer.id,
  role: 'BUYER',
  idempotencyKey: null,
  requestHash: null,
});

async function settled(queue: 'order' | 'payment', jobId: string) {
  const state = await waitFor(async () => {
    const state = await (await findJob(shop.ctx.queues, queue, jobId))?.getState();
    return state === 'failed' || state === 'completed' ? state : undefined;
  }, `job ${jobId} to settle`);
  return { job: (await findJob(shop.ctx.queues, queue, jobId))!, state };
}

const orderCount = async () =>
  (await query<{ n: number }>(shop.ctx.orm.em.fork(), sql`select count(*)::int as n from orders`))[0]!.n;

describe('forged jobs are refused before any SQL', () => {
  it('PLACE with a negative quantity fails for good with VALIDATION_ERROR, without a statement', async () => {
    const productId = await createProduct(shop, seller);
    const before = await orderCount();
    const jobId = `forged-${uuidv7()}`;
    let outcome: Awaited<ReturnType<typeof settled>> | undefined;
    const statements = await statementsDuring(shop.databaseName, async () => {
      await shop.ctx.queues.orderShards[0]!.add(
        'PLACE',
        { ...envelope(), items: [{ productId, quantity: -5 }] },
        { jobId, attempts: 5 },
      );
      outcome = await settled('order', jobId);
    });
    // Five attempts were allowed: 'failed' (not 'delayed' for a retry) means it failed for good.
    expect(outcome!.state).toBe('failed');
    expect(outcome!.job.failedReason).toMatch(
      /^VALIDATION_ERROR: order job 'PLACE' refused: items\.0\.quantity/,
    );
    expect(statements).toEqual([]);
    expect(await orderCount()).toBe(before);
  });

  it('a CAPTURE whose paymentId is not an id is refused the same way', async () => {
    const jobId = `forged-${uuidv7()}`;
    let outcome: Awaited<ReturnType<typeof settled>> | undefined;
    const statements = await statementsDuring(shop.databaseName, async () => {
      await shop.ctx.queues.payment.add('CAPTURE', { paymentId: "x' or 1=1 --" }, { jobId, attempts: 5 });
      outcome = await settled('payment', jobId);
    });
    expect(outcome!.state).toBe('failed');
    expect(outcome!.job.failedReason).toMatch(/^VALIDATION_ERROR: payment job 'CAPTURE' refused: paymentId/);
    expect(statements).toEqual([]);
  });

  it('a CANCEL whose reason carries a NUL (unstorable text) is refused the same way', async () => {
    const jobId = `forged-${uuidv7()}`;
    let outcome: Awaited<ReturnType<typeof settled>> | undefined;
    const statements = await statementsDuring(shop.databaseName, async () => {
      await shop.ctx.queues.orderShards[0]!.add(
        'CANCEL',
        { ...envelope(), orderId: uuidv7(), reason: 'bad\u0000reason' },
        { jobId, attempts: 5 },
      );
      outcome = await settled('order', jobId);
    });
    expect(outcome!.state).toBe('failed');
    expect(outcome!.job.failedReason).toMatch(/^VALIDATION_ERROR: order job 'CANCEL' refused: reason/);
    expect(statements).toEqual([]);
  });

  it('the same PLACE with a valid quantity goes through the same router (the control)', async () => {
    const productId = await createProduct(shop, seller);
    const jobId = `valid-${uuidv7()}`;
    await shop.ctx.queues.orderShards[0]!.add(
      'PLACE',
      { ...envelope(), items: [{ productId, quantity: 1 }] },
      { jobId },
    );
    const { state } = await settled('order', jobId);
    expect(state).toBe('completed');
    const [row] = await query<{ n: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as n from order_items where product_id = ${productId}`,
    );
    expect(row!.n).toBe(1);
  });
});
