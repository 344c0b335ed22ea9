import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { paymentGateway } from '../../src/payments/gateway';
import { paymentWorker } from '../../workers/payment.worker';
import { type RunningWorker, startWorker } from '../../workers/runtime';
import { createProduct, inventoryOf } from '../support/catalog';
import { deliverNotice, placeOrder } from '../support/orders';
import {
  balanceOf,
  getOrder,
  isSettled,
  ledgerOf,
  moneyHeldFor,
  pay,
  refund,
  rows,
  waitForOrder,
  waitForRefund,
} from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually, spawnWorkerProcess } from '../support/worker-process';

const outboxRowExists = async (shop: TestShop, jobId: string) =>
  (await rows(shop, sql`select 1 from outbox_events where job_id = ${jobId}`)).length > 0;
const outcomeApplied = async (shop: TestShop, messageId: string) =>
  (await rows(shop, sql`select 1 from order_transitions where message_id = ${messageId}`)).length > 0;

describe('a worker SIGKILLed between the gateway capture and its commit', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // This process only serves HTTP; separate worker processes are started and killed.
    shop = await createTestShop({ WORKERS: 'none', WORKER_LOCK_MS: '1500' });
  });
  afterAll(() => shop?.close());

  it('after a restart the payment completes: one capture, order PAID', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 10 });
    const slowGateway = {
      PAYMENT_GATEWAY_LATENCY_MS: '1600',
      PAYMENT_GATEWAY_TIMEOUT_MS: '10000',
      WORKER_LOCK_MS: '1500',
    };
    let worker = await spawnWorkerProcess(shop.config, slowGateway);
    try {
      // The kill must land after the gateway's commit and before the worker's: ~800 ms wide. Should
      // a slow machine miss it, the attempt is repeated with a fresh order.
      let caught: { orderId: string; paymentId: string } | undefined;
      for (let attempt = 0; attempt < 4 && !caught; attempt++) {
        const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
        const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD' });
        expect(res.status).toBe(202);
        const paymentId = res.body.data.id as string;
        await eventually(async () => (await ledgerOf(shop, order.id)).length > 0, 15_000, 5);
        await worker.kill('SIGKILL');
        // Missed: the killed run had already told the order (applied to it, or as a notice).
        const missed =
          (await outboxRowExists(shop, `paid-${paymentId}`)) ||
          (await outcomeApplied(shop, `paid-${paymentId}`));
        if (!missed) caught = { orderId: order.id, paymentId };
        worker = await spawnWorkerProcess(shop.config, missed ? slowGateway : { WORKER_LOCK_MS: '1500' });
      }
      expect(caught, 'the kill never landed inside the window').toBeDefined();
      const { orderId, paymentId } = caught!;
      const paid = await waitForOrder(shop, buyer, orderId, (o) => o.status === 'PAID', 30_000);
      expect(paid.payment).toMatchObject({ id: paymentId, status: 'COMPLETED' });
      expect((await ledgerOf(shop, orderId)).map((l) => l.kind)).toEqual(['CAPTURE']);
      const [payment] = await rows<{ attempts: number }>(
        shop,
        sql`select attempts from payments where id = ${paymentId}`,
      );
      // The first run died mid-call; the next found the capture already at the gateway and applied it
      // to the order. Until the order marks the payment COMPLETED, a CAPTURE run again (its 1.5 s lock lapsing
      // under a loaded machine, the job redelivered once more) counts another attempt and finds the
      // same capture: more attempts are allowed, a second capture never (the ledger above).
      expect(payment!.attempts).toBeGreaterThanOrEqual(2);
      expect(await moneyHeldFor(shop, orderId)).toBe(paid.total);
    } finally {
      await worker.kill('SIGTERM');
    }
  }, 90_000);
});

/**
 * Each test acts inside an order's window (pays it, or takes its time bucket away) before waiting it
 * out: twice the 5 s reply timeout, so no answer slow enough to still be on time lets it pass first.
 */
const PAYMENT_WINDOW_MS = 10_000;

describe('payments racing the payment window', () => {
  // The races are set up, not hoped for: the payment mailbox is paused to hold a capture in flight,
  // the expiry is delivered by the test at a known moment, and the sweeper is out of the way (hourly).
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({
      WORKERS: 'all',
      ORDER_PAYMENT_TIMEOUT_MS: String(PAYMENT_WINDOW_MS),
      ORDER_SWEEP_INTERVAL_MS: '3600000',
      PAYMENT_GATEWAY_LATENCY_MS: '60',
      PAYMENT_MAX_ATTEMPTS: '2',
      PAYMENT_RETRY_BASE_MS: '20',
    });
  });
  afterAll(() => shop?.close());

  /** Waits until the order's payment window has passed by the clock. */
  async function windowPassed(buyer: TestUser, orderId: string) {
    const view = (await shop.request('GET', `/api/v1/orders/${orderId}`, { token: buyer.token })).body.data;
    await eventually(async () => Date.now() > Date.parse(view.expiresAt) + 1, PAYMENT_WINDOW_MS + 15_000);
  }

  it('a payment in flight when the window passes and the expiry lands still ends PAID: the window waits for it', async () => {
    const seller = await shop.createUser('SELLER');
    const productId = await createProduct(shop, seller, { stock: 100 });
    const buyers = await Promise.all(Array.from({ length: 4 }, () => shop.createUser('BUYER')));
    await shop.ctx.queues.payment.pause();
    let orders: { buyer: TestUser; orderId: string; total: number }[];
    try {
      orders = await Promise.all(
        buyers.map(async (buyer) => {
          const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
          const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD' });
          expect([res.status, res.body.error], 'paid within its window').toEqual([202, undefined]);
          return { buyer, orderId: order.id, total: order.total };
        }),
      );
      for (const { buyer, orderId } of orders) {
        await windowPassed(buyer, orderId);
        // The expiry lands while the capture still waits in the paused mailbox: it changes nothing.
        expect(await deliverNotice(shop, orderId, { type: 'EXPIRE' })).toBe('ignored');
        expect(await getOrder(shop, buyer, orderId)).toMatchObject({ state: 'PENDING.paying' });
      }
    } finally {
      await shop.ctx.queues.payment.resume();
    }
    for (const { buyer, orderId, total } of orders) {
      const paid = await waitForOrder(shop, buyer, orderId, (o) => o.status === 'PAID' && isSettled(o));
      expect(paid.total).toBe(total);
      expect(await moneyHeldFor(shop, orderId)).toBe(total);
      expect((await ledgerOf(shop, orderId)).map((l) => l.kind)).toEqual(['CAPTURE']);
    }
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0, stock: 100 - orders.length });
  }, 60_000);

  it('a payment past its window is refused (409 ORDER_NOT_PAYABLE), even before the expiry lands', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller);
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    // The order's time bucket (added after its placement committed) is taken away, and the sweeper is
    // hourly: no expiry can land meanwhile.
    const bucket = `expire-at-${Math.ceil(Date.parse(order.expiresAt) / 1000)}`;
    const timer = await eventually(() => shop.ctx.queues.orderShards[0]!.getJob(bucket));
    await timer!.remove();
    expect(await shop.ctx.queues.orderShards[0]!.getJob(bucket)).toBeUndefined();
    await windowPassed(buyer, order.id);
    const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD' });
    expect([res.status, res.body.error]).toEqual([409, 'ORDER_NOT_PAYABLE']);
    expect(await getOrder(shop, buyer, order.id)).toMatchObject({ state: 'PENDING.awaitingPayment' });
    // The expiry, as the sweeper would deliver it, then cancels it.
    expect(await deliverNotice(shop, order.id, { type: 'EXPIRE' })).toBe('applied');
    expect(await waitForOrder(shop, buyer, order.id, (o) => o.status === 'CANCELLED')).toMatchObject({
      cancelReason: 'PAYMENT_TIMEOUT',
    });
    expect(await moneyHeldFor(shop, order.id)).toBe(0);
  }, 60_000);

  it('a card still failing after PAYMENT_MAX_ATTEMPTS fails with GATEWAY_ERROR and cancels the order', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 3 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 3 }]);
    const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD', cardToken: 'tok_flaky' });
    expect(res.status).toBe(202);
    expect(await waitForOrder(shop, buyer, order.id)).toMatchObject({
      status: 'CANCELLED',
      cancelReason: 'PAYMENT_FAILED',
      payment: { status: 'FAILED' },
    });
    const [payment] = await rows<{ failure_reason: string; attempts: number }>(
      shop,
      sql`select failure_reason, attempts from payments where id = ${res.body.data.id}`,
    );
    expect(payment).toEqual({ failure_reason: 'GATEWAY_ERROR', attempts: 2 });
    expect(await ledgerOf(shop, order.id)).toEqual([]);
    expect(await inventoryOf(shop, productId)).toMatchObject({ reserved: 0, stock: 3 });
  });
});

describe('a capture that lands after the order was cancelled', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // The gateway is slower than the caller's patience: it acts 500 ms in, the caller gives up at 200.
    shop = await createTestShop({
      WORKERS: 'all',
      PAYMENT_GATEWAY_LATENCY_MS: '1000',
      PAYMENT_GATEWAY_TIMEOUT_MS: '200',
      PAYMENT_MAX_ATTEMPTS: '1',
      PAYMENT_SWEEP_INTERVAL_MS: '300',
    });
  });
  afterAll(() => shop?.close());

  it('is found by the sweep and refunded through the gateway: the cancelled order keeps nothing', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 10 });
    // The final look at the gateway (at ~200 ms) must come before the capture lands (at ~500 ms); a
    // machine too loaded for that sees the capture in time and the order is simply PAID: try again.
    let late: { order: { id: string; total: number }; paymentId: string } | undefined;
    for (let attempt = 0; attempt < 3 && !late; attempt++) {
      const order = await placeOrder(shop, buyer, [{ productId, quantity: 2 }]);
      const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD' });
      const first = await waitForOrder(shop, buyer, order.id, (o) => o.status !== 'PENDING');
      if (first.status === 'CANCELLED') late = { order, paymentId: res.body.data.id };
    }
    expect(late, 'the final gateway look never came before the capture').toBeDefined();
    const { order, paymentId } = late!;
    expect((await getOrder(shop, buyer, order.id)).cancelReason).toBe('PAYMENT_FAILED');
    // Then the gateway's capture lands; the sweep reports it; the machine refunds it; that refund is
    // slow too, is given up (MANUAL), and is reconciled the same way.
    const refunded = await waitForOrder(shop, buyer, order.id, (o) => o.refundedAmount === o.total, 20_000);
    expect(refunded).toMatchObject({
      status: 'CANCELLED',
      cancelReason: 'PAYMENT_FAILED',
      payment: { status: 'REFUNDED' },
    });
    expect((await ledgerOf(shop, order.id)).map((l) => [l.kind, l.amount])).toEqual([
      ['CAPTURE', order.total],
      ['REFUND', order.total],
    ]);
    const refunds = await rows<{ reason: string; status: string }>(
      shop,
      sql`select reason, status from refunds where payment_id = ${paymentId}`,
    );
    expect(refunds).toEqual([{ reason: 'LATE_CAPTURE', status: 'REFUNDED' }]);
    expect(await moneyHeldFor(shop, order.id)).toBe(0);
  }, 60_000);
});

describe('the late-capture transition', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({ WORKERS: 'all' });
  });
  afterAll(() => shop?.close());

  it('a PAYMENT_SUCCEEDED notice for a CANCELLED order refunds the capture through the gateway', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller);
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const paymentId = (
      await pay(shop, buyer, { orderId: order.id, method: 'CARD', cardToken: 'tok_declined' })
    ).body.data.id as string;
    await waitForOrder(shop, buyer, order.id, (o) => o.status === 'CANCELLED');
    // As if the PG had charged the card after all and said so late.
    await paymentGateway(shop.ctx).capture({
      paymentId,
      orderId: order.id,
      amount: order.total,
      cardToken: null,
    });
    const notice = {
      orderId: order.id,
      event: { type: 'PAYMENT_SUCCEEDED', paymentId, amount: order.total },
    };
    await shop.ctx.queues.orderShards[0]!.add('NOTICE', notice, { jobId: `late-${paymentId}` });
    await shop.ctx.queues.orderShards[0]!.add('NOTICE', notice, { jobId: `late-again-${paymentId}` });
    const after = await waitForOrder(shop, buyer, order.id, (o) => o.payment.status === 'REFUNDED');
    expect(after).toMatchObject({ status: 'CANCELLED', refundedAmount: order.total });
    expect((await ledgerOf(shop, order.id)).map((l) => l.kind)).toEqual(['CAPTURE', 'REFUND']);
    expect(await moneyHeldFor(shop, order.id)).toBe(0);
  });

  it.each(['CARD', 'BALANCE'] as const)(
    'a stray second success notice for a refunded %s payment is ignored by the machine: no refund, no money',
    async (method) => {
      const seller = await shop.createUser('SELLER');
      const buyer = await shop.createUser('BUYER', { balance: 50_000 });
      const productId = await createProduct(shop, seller, { price: 10_000 });
      const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
      const paymentId = (await pay(shop, buyer, { orderId: order.id, method })).body.data.id as string;
      await waitForOrder(shop, buyer, order.id, (o) => o.status === 'PAID');
      await shop.request('POST', `/api/v1/orders/${order.id}/cancel`, { token: buyer.token });
      await waitForOrder(shop, buyer, order.id, (o) => o.status === 'CANCELLED');
      expect(await balanceOf(shop, buyer.id)).toBe(50_000);
      // Not something the payment actor sends (its notices share one id per payment): a forged one.
      await shop.ctx.queues.orderShards[0]!.add(
        'NOTICE',
        { orderId: order.id, event: { type: 'PAYMENT_SUCCEEDED', paymentId, amount: order.total } },
        { jobId: `forged-${paymentId}` },
      );
      // The order's own payment was settled as paid: its CANCELLED state does not take the notice.
      await eventually(
        async () =>
          (await shop.ctx.queues.orderShards[0]!.getJobState(`forged-${paymentId}`)) === 'completed',
      );
      const late = await rows<{ status: string }>(
        shop,
        sql`select status from refunds where payment_id = ${paymentId} and reason = 'LATE_CAPTURE'`,
      );
      expect(late).toEqual([]);
      expect(await balanceOf(shop, buyer.id)).toBe(50_000);
      expect(await moneyHeldFor(shop, order.id)).toBe(0);
    },
  );
});

describe('the stale sweep, when Redis lost a payment’s or a refund’s message', () => {
  let shop: TestShop;
  let worker: RunningWorker | undefined;
  beforeAll(async () => {
    // No payment actor at first: its messages wait in Redis, where the test then loses them.
    shop = await createTestShop({
      WORKERS: 'order,outbox',
      WORKER_LOCK_MS: '1000',
      PAYMENT_GATEWAY_TIMEOUT_MS: '200',
      PAYMENT_RETRY_BASE_MS: '20',
      PAYMENT_SWEEP_INTERVAL_MS: '300',
    });
  });
  afterAll(async () => {
    await worker?.close();
    await shop?.close();
  });

  async function loseJob(jobId: string) {
    await eventually(async () => {
      const [row] = await rows<{ status: string }>(
        shop,
        sql`select status from outbox_events where job_id = ${jobId}`,
      );
      return row?.status === 'SENT';
    });
    expect(await shop.ctx.queues.payment.getJob(jobId)).toBeDefined();
    await shop.ctx.queues.payment.remove(jobId);
    expect(await shop.ctx.queues.payment.getJob(jobId)).toBeUndefined();
  }

  it('offers them again once their retries would have ended, and they complete exactly once', async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 4 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 2 }]);
    const paymentId = (await pay(shop, buyer, { orderId: order.id, method: 'CARD' })).body.data.id as string;
    await loseJob(`capture-${paymentId}`);
    worker = await startWorker(shop.ctx, 'payment', paymentWorker);
    const paid = await waitForOrder(shop, buyer, order.id, (o) => o.status === 'PAID', 20_000);
    expect(paid.payment.status).toBe('COMPLETED');
    expect((await ledgerOf(shop, order.id)).map((l) => l.kind)).toEqual(['CAPTURE']);
    const [payment] = await rows<{ attempts: number }>(
      shop,
      sql`select attempts from payments where id = ${paymentId}`,
    );
    expect(payment!.attempts).toBe(1);

    await worker.close();
    worker = undefined;
    const res = await refund(shop, buyer, { paymentId, amount: 1_000 });
    expect(res.status).toBe(202);
    await loseJob(`refund-${res.body.data.id}`);
    worker = await startWorker(shop.ctx, 'payment', paymentWorker);
    expect(await waitForRefund(shop, buyer, res.body.data.id, 20_000)).toMatchObject({ status: 'REFUNDED' });
    expect(await getOrder(shop, buyer, order.id)).toMatchObject({ status: 'PAID', refundedAmount: 1_000 });
    expect((await ledgerOf(shop, order.id)).map((l) => l.kind)).toEqual(['CAPTURE', 'REFUND']);
  }, 60_000);
});
