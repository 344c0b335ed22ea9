import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { ORDER_NOTICE } from '../../src/messaging/messages';
import { Outbox } from '../../src/messaging/outbox';
import { type OutboxRecord, publish } from '../../src/outbox/outbox-publish';
import { addNotice } from '../../src/payments/tell-order';
import { createProduct } from '../support/catalog';
import { placeOrder } from '../support/orders';
import { getOrder, ledgerOf, pay, refund, rows, waitForOrder } from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// No relay runs here: the test claims the rows and publishes them itself, so it knows which rows
// travel together and can deliver the same rows twice (what a relay that died before its SENT mark does).
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;

beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'order,payment',
    ORDER_SHARDS: '1',
    PAYMENT_GATEWAY_TIMEOUT_MS: '1000',
    PAYMENT_RETRY_BASE_MS: '20',
    PAYMENT_MAX_ATTEMPTS: '3',
    // The sweep would offer a captured payment whose notice is held back by the test again.
    PAYMENT_SWEEP_INTERVAL_MS: '3600000',
  });
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER');
});
afterAll(() => shop?.close());

const orderQueue = () => shop.ctx.queues.orderShards[0]!;

/** The outbox rows of these job ids, as the relay claims them. */
const claimed = (jobIds: string[]) =>
  rows<OutboxRecord>(
    shop,
    sql`select id, aggregate_type, aggregate_id, type, payload, queue, job_id, deliver_at, cancel, attempts,
               deliveries, created_at, trace_context
        from outbox_events where job_id = any(${jobIds}::text[]) order by id`,
  );

const deliver = (records: OutboxRecord[]) => publish(shop.ctx, records, async () => []);

const MESSAGES = new Set(['CAPTURE', 'CAPTURE_BATCH', 'NOTICE', 'NOTICE_BATCH']);

/** With the queue paused, what one delivery of `records` enqueued (then the queue goes on). */
async function jobsOfOneDelivery(queue: Queue, records: OutboxRecord[]) {
  await queue.pause();
  try {
    await deliver(records);
    // Only what the relay delivered: the queue's own periodic sweep (a repeat job) may come due meanwhile.
    return (await queue.getJobs(['waiting', 'prioritized']))
      .filter((job) => !job.id?.startsWith('repeat:'))
      .map((job) => ({ id: job.id, name: job.name, data: job.data }));
  } finally {
    await queue.resume();
  }
}

/** No message waits, runs or backs off in the queue (its sweep and timers aside). */
const drained = (queue: Queue) =>
  eventually(async () => {
    const counts = await queue.getJobCounts('waiting', 'active', 'prioritized');
    const delayed = await queue.getJobs(['delayed']);
    return Object.values(counts).every((n) => n === 0) && delayed.every((job) => !MESSAGES.has(job.name));
  }, 20_000);

async function payableOrder(cardToken: string) {
  const productId = await createProduct(shop, seller, { price: 5_000, stock: 5 });
  const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
  const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD', cardToken });
  expect(res.status).toBe(202);
  return { orderId: order.id, paymentId: res.body.data.id as string };
}

const attemptsOf = async (paymentId: string) =>
  (await rows<{ attempts: number }>(shop, sql`select attempts from payments where id = ${paymentId}`))[0]!
    .attempts;

const transitionsOf = async (orderId: string) =>
  (
    await rows<{ n: number }>(
      shop,
      sql`select count(*)::int as n from order_transitions where order_id = ${orderId}`,
    )
  )[0]!.n;

describe('CAPTUREs of one claim travel as one CAPTURE_BATCH job', () => {
  it('a member that fails for a while is retried alone; its neighbours are captured once; a re-delivery repeats nothing', async () => {
    const payments = [
      await payableOrder('tok_ok'),
      await payableOrder('tok_flaky'),
      await payableOrder('tok_ok'),
    ];
    const captureRows = await claimed(payments.map((p) => `capture-${p.paymentId}`));
    expect(captureRows).toHaveLength(3);

    const jobs = await jobsOfOneDelivery(shop.ctx.queues.payment, captureRows);
    // Members in the rows' order (their uuidv7 ids), the job known by the first one's id.
    expect(jobs).toEqual([
      {
        id: captureRows[0]!.job_id,
        name: 'CAPTURE_BATCH',
        data: { members: captureRows.map((row) => ({ id: row.job_id, data: row.payload })) },
      },
    ]);
    // tok_flaky fails twice: the batch job is retried twice, each time for the flaky member only.
    await eventually(async () => (await shop.ctx.queues.payment.getJob(jobs[0]!.id!)) === undefined, 20_000);
    const [ok1, flaky, ok2] = payments as [(typeof payments)[0], (typeof payments)[0], (typeof payments)[0]];
    expect(await attemptsOf(ok1.paymentId)).toBe(1);
    expect(await attemptsOf(ok2.paymentId)).toBe(1);
    expect(await attemptsOf(flaky.paymentId)).toBe(3);
    // Each member applied its outcome to its order itself (no notice through the outbox), the flaky
    // one under its third attempt's id: every order ends PAID.
    const notices = await rows<{ job_id: string }>(
      shop,
      sql`select job_id from outbox_events where type = ${ORDER_NOTICE}
            and aggregate_id = any(${payments.map((p) => p.orderId)}::text[])`,
    );
    expect(notices).toEqual([]);
    for (const p of payments) await waitForOrder(shop, buyer, p.orderId, (o) => o.status === 'PAID');
    const applied = await rows<{ message_id: string }>(
      shop,
      sql`select message_id from order_transitions where event = 'PAYMENT_SUCCEEDED'
            and order_id = any(${payments.map((p) => p.orderId)}::uuid[])`,
    );
    expect(applied.map((t) => t.message_id).sort()).toEqual(
      [`paid-${ok1.paymentId}`, `paid-${ok2.paymentId}`, `paid-${flaky.paymentId}-a3`].sort(),
    );
    const before = await Promise.all(payments.map((p) => transitionsOf(p.orderId)));

    // The same rows delivered again (a relay died before marking them SENT): nothing happens twice.
    await deliver(captureRows);
    await drained(shop.ctx.queues.payment);
    await drained(orderQueue());
    for (const p of payments) {
      expect((await ledgerOf(shop, p.orderId)).map((l) => l.kind)).toEqual(['CAPTURE']);
      const order = await waitForOrder(shop, buyer, p.orderId, (o) => o.status === 'PAID');
      expect(order.payment).toMatchObject({ id: p.paymentId, status: 'COMPLETED' });
    }
    expect(await Promise.all(payments.map((p) => transitionsOf(p.orderId)))).toEqual(before);
    expect(await attemptsOf(ok1.paymentId)).toBe(1);
    expect(await attemptsOf(flaky.paymentId)).toBe(3);
  }, 60_000);
});

/** Orders paid by card, their CAPTUREs delivered by the test (each applies its outcome to its order). */
async function paidOrders(count: number) {
  const payments = [];
  for (let i = 0; i < count; i++) payments.push(await payableOrder('tok_ok'));
  await deliver(await claimed(payments.map((p) => `capture-${p.paymentId}`)));
  for (const p of payments) await waitForOrder(shop, buyer, p.orderId, (o) => o.status === 'PAID');
  return payments;
}

describe('REFUNDs of one claim travel as one REFUND_BATCH job', () => {
  it('each member gives its money back once', async () => {
    const payments = await paidOrders(2);
    const refundIds: string[] = [];
    for (const p of payments) {
      const res = await refund(shop, buyer, { paymentId: p.paymentId, amount: 2_000, restock: false });
      expect(res.status).toBe(202);
      refundIds.push(res.body.data.id as string);
    }
    const refundRows = await claimed(refundIds.map((id) => `refund-${id}`));
    const jobs = await jobsOfOneDelivery(shop.ctx.queues.payment, refundRows);
    expect(jobs.map((j) => [j.id, j.name])).toEqual([[refundRows[0]!.job_id, 'REFUND_BATCH']]);
    for (const p of payments) {
      await waitForOrder(shop, buyer, p.orderId, (o) => o.refundedAmount === 2_000);
      expect((await ledgerOf(shop, p.orderId)).map((l) => l.kind)).toEqual(['CAPTURE', 'REFUND']);
    }
  }, 30_000);
});

describe('NOTICEs of one claim travel as one NOTICE_BATCH job', () => {
  it('a poisoned member is refused alone: the others apply once, and a re-delivery applies nothing twice', async () => {
    const [a, b, c] = [
      await payableOrder('tok_ok'),
      await payableOrder('tok_ok'),
      await payableOrder('tok_ok'),
    ];
    // The payment actor's outcomes, written as it writes them, in one transaction (so one claim):
    // a's and b's payments succeeded; c hears of a payment that is not its own (the machine ignores
    // it); and a forged notice for b that no schema accepts.
    const outbox = new Outbox();
    addNotice(outbox, a!.orderId, { type: 'PAYMENT_SUCCEEDED', paymentId: a!.paymentId, amount: 5_000 });
    const poisoned = `poisoned-${uuidv7()}`;
    outbox.message(
      'order',
      ORDER_NOTICE,
      { orderId: b!.orderId, event: { type: 'PAYMENT_SUCCEEDED' } } as never,
      {
        jobId: poisoned,
        aggregateId: b!.orderId,
      },
    );
    addNotice(outbox, b!.orderId, { type: 'PAYMENT_SUCCEEDED', paymentId: b!.paymentId, amount: 5_000 });
    addNotice(outbox, c!.orderId, { type: 'PAYMENT_SUCCEEDED', paymentId: uuidv7(), amount: 5_000 });
    await shop.ctx.orm.em.fork().transactional((tx) => outbox.flush(tx, new Date()));
    const ids = outbox.rows.map((r) => r.jobId!);
    const noticeRows = await claimed(ids);
    // The batch is known by its first member in the rows' order (their uuidv7 ids).
    const batchId = noticeRows[0]!.job_id!;

    const jobs = await jobsOfOneDelivery(orderQueue(), noticeRows);
    expect(jobs.map((j) => [j.id, j.name])).toEqual([[batchId, 'NOTICE_BATCH']]);
    await waitForOrder(shop, buyer, a!.orderId, (o) => o.status === 'PAID');
    await waitForOrder(shop, buyer, b!.orderId, (o) => o.status === 'PAID');
    // The job fails for good, naming the poisoned member, once its neighbours are applied.
    const failed = await eventually(async () => {
      const job = await orderQueue().getJob(batchId);
      return (await job?.isFailed()) ? job : undefined;
    });
    expect(failed!.failedReason).toContain(poisoned);
    expect(failed!.attemptsMade).toBe(1);
    const applied = await rows<{ message_id: string }>(
      shop,
      sql`select message_id from processed_messages where message_id = any(${ids}::text[]) order by message_id`,
    );
    expect(applied.map((r) => r.message_id).sort()).toEqual(ids.filter((id) => id !== poisoned).sort());
    expect((await getOrder(shop, buyer, c!.orderId)).status).toBe('PENDING');
    const before = await Promise.all([a, b, c].map((o) => transitionsOf(o!.orderId)));

    // Delivered again once the failed job is gone from Redis: a new job, and nothing applied twice.
    await failed!.remove();
    await deliver(noticeRows);
    await eventually(async () => (await (await orderQueue().getJob(batchId))?.isFailed()) === true);
    expect(await Promise.all([a, b, c].map((o) => transitionsOf(o!.orderId)))).toEqual(before);
  }, 60_000);

  it('rows that may have gone out before (reclaimed, retried) travel alone, under their own ids', async () => {
    const [e, f] = [await payableOrder('tok_ok'), await payableOrder('tok_ok')];
    const outbox = new Outbox();
    addNotice(outbox, e.orderId, { type: 'PAYMENT_SUCCEEDED', paymentId: e.paymentId, amount: 5_000 });
    addNotice(outbox, f.orderId, { type: 'PAYMENT_SUCCEEDED', paymentId: f.paymentId, amount: 5_000 });
    await shop.ctx.orm.em.fork().transactional((tx) => outbox.flush(tx, new Date()));
    const ids = [`paid-${e.paymentId}`, `paid-${f.paymentId}`];
    // As the relay's housekeeping leaves rows a dead relay had claimed: one attempt counted.
    const reclaimed = (await claimed(ids)).map((row) => ({ ...row, attempts: 1 }));
    const jobs = await jobsOfOneDelivery(orderQueue(), reclaimed);
    expect(jobs.map((j) => [j.id, j.name]).sort()).toEqual(ids.map((id) => [id, 'NOTICE']).sort());
    await waitForOrder(shop, buyer, e.orderId, (o) => o.status === 'PAID');
    await waitForOrder(shop, buyer, f.orderId, (o) => o.status === 'PAID');
  }, 30_000);

  it('a lone notice still travels as its own NOTICE job, under its own id', async () => {
    const d = await payableOrder('tok_ok');
    const outbox = new Outbox();
    addNotice(outbox, d.orderId, { type: 'PAYMENT_SUCCEEDED', paymentId: d.paymentId, amount: 5_000 });
    await shop.ctx.orm.em.fork().transactional((tx) => outbox.flush(tx, new Date()));
    const jobs = await jobsOfOneDelivery(orderQueue(), await claimed([`paid-${d.paymentId}`]));
    expect(jobs.map((j) => [j.id, j.name])).toEqual([[`paid-${d.paymentId}`, 'NOTICE']]);
    await waitForOrder(shop, buyer, d.orderId, (o) => o.status === 'PAID');
  }, 30_000);
});
