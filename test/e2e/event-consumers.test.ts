import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { dispatchEvent } from '../../src/events/event-consumers';
import { type DomainEventMessage, parseDomainEvent } from '../../src/messaging/domain-events';
import { eventConsumerLagSeconds } from '../../src/messaging/event-metrics';
import { createProduct } from '../support/catalog';
import { eventsSettled, rows, startReceiver, type WebhookReceiver } from '../support/events';
import { markPaid, placeOrder } from '../support/orders';
import { pay, waitForOrder } from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

const PAYMENT_WINDOW_MS = 10_000;
/** Every event of this file was committed after this: no lag can be longer than the time since. */
const fileStartedAt = Date.now();
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
let admin: TestUser;
let receiver: WebhookReceiver;

beforeAll(async () => {
  // A short payment window, so one order really expires (delayed job or sweeper) during the test; the
  // others are paid, declined or cancelled inside theirs: twice the 5 s reply timeout, so no answer
  // slow enough to still be on time lets a window pass first.
  shop = await createTestShop({
    WORKERS: 'all',
    WEBHOOK_RETRY_BASE_MS: '20',
    ORDER_PAYMENT_TIMEOUT_MS: String(PAYMENT_WINDOW_MS),
  });
  [seller, buyer, admin] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('BUYER'),
    shop.createUser('ADMIN'),
  ]);
  receiver = await startReceiver();
  const hook = await shop.request('POST', '/api/v1/admin/webhooks', {
    token: admin.token,
    body: { url: receiver.url, events: ['*'], secret: 'a-secret-of-24-characters' },
  });
  expect(hook.status).toBe(201);
});
afterAll(async () => {
  await shop?.close();
  await receiver?.close();
});

/** Every transition of the order machine that emits events, on four orders. */
async function driveEveryTransition() {
  const productId = await createProduct(shop, seller, { price: 5_000, stock: 50, category: 'shoes' });
  const line = [{ productId, quantity: 2 }];
  const expired = await placeOrder(shop, buyer, line);
  const confirmed = await placeOrder(shop, buyer, line);
  await markPaid(shop, buyer, confirmed.id, confirmed.total);
  expect(
    (await shop.request('POST', `/api/v1/orders/${confirmed.id}/confirm`, { token: buyer.token })).status,
  ).toBe(200);

  // Paid and refunded through the payment actor itself (it runs here: WORKERS=all). A stand-in that
  // completed the refund from the test raced with it and found nothing left to complete.
  const refunded = await placeOrder(shop, buyer, line);
  expect((await pay(shop, buyer, { orderId: refunded.id, method: 'CARD' })).status).toBe(202);
  await waitForOrder(shop, buyer, refunded.id, (o) => o.status === 'PAID', 30_000);
  expect(
    (await shop.request('POST', `/api/v1/orders/${refunded.id}/cancel`, { token: buyer.token })).status,
  ).toBe(202);
  const refunds = await rows(shop, sql`select id from refunds where order_id = ${refunded.id}`);
  expect(refunds).toHaveLength(1);
  const cancelledByRefund = await waitForOrder(
    shop,
    buyer,
    refunded.id,
    (o) => o.status === 'CANCELLED',
    30_000,
  );
  expect(cancelledByRefund).toMatchObject({ cancelReason: 'USER_CANCELLED', refundedAmount: refunded.total });

  const cancelled = await placeOrder(shop, buyer, line);
  expect(
    (await shop.request('POST', `/api/v1/orders/${cancelled.id}/cancel`, { token: buyer.token })).status,
  ).toBe(200);
  // Declined by the gateway itself: a PAY committed from the test with a stand-in PAYMENT_FAILED raced
  // with the payment actor's own capture of it (a card that worked: charged, then refunded).
  const declined = await placeOrder(shop, buyer, line);
  expect(
    (await pay(shop, buyer, { orderId: declined.id, method: 'CARD', cardToken: 'tok_declined' })).status,
  ).toBe(202);
  await waitForOrder(shop, buyer, declined.id, (o) => o.status === 'CANCELLED', 30_000);
  const restock = await shop.request('POST', `/api/v1/inventory/${productId}/restock`, {
    token: seller.token,
    body: { quantity: 5 },
  });
  expect(restock.status).toBe(200);
  await eventually(async () => {
    const res = await shop.request('GET', `/api/v1/orders/${expired.id}`, { token: buyer.token });
    return res.body.data.status === 'CANCELLED';
  }, PAYMENT_WINDOW_MS + 20_000);
  return { productId, confirmed, refunded, cancelled, expired, declined };
}

const notificationsOf = (userId: string) =>
  rows<{ type: string; order_id: string; event_id: string }>(
    shop,
    sql`select type, order_id, event_id from notifications where user_id = ${userId} order by created_at, type`,
  );

async function snapshot() {
  const [notifications, sales, processed, deliveries] = await Promise.all([
    rows<{ type: string; event_id: string }>(shop, sql`select type, event_id from notifications order by id`),
    rows(shop, sql`select order_id, product_id, units, revenue from sales_lines order by order_id`),
    rows(
      shop,
      sql`select consumer, message_id from processed_messages where consumer in
                   ('notifications', 'sales-stats', 'webhooks') order by consumer, message_id`,
    ),
    rows<{ event_id: string }>(shop, sql`select event_id from webhook_deliveries order by event_id`),
  ]);
  return { notifications, sales, processed, deliveries };
}

describe('every transition reaches each consumer, exactly once', () => {
  let orders: Awaited<ReturnType<typeof driveEveryTransition>>;
  let events: DomainEventMessage[];

  beforeAll(async () => {
    orders = await driveEveryTransition();
    await eventsSettled(shop);
    const outbox = await rows<{
      id: string;
      type: string;
      aggregate_type: string;
      aggregate_id: string;
      payload: Record<string, unknown>;
      created_at: string;
    }>(
      shop,
      sql`select id, type, aggregate_type, aggregate_id, payload, created_at from outbox_events
          where queue = 'events' order by created_at, id`,
    );
    // Every event the transitions wrote must parse with the one payload map the consumers rely on.
    events = outbox.map((r) => {
      const parsed = parseDomainEvent({
        id: r.id,
        type: r.type,
        aggregateType: r.aggregate_type,
        aggregateId: r.aggregate_id,
        occurredAt: new Date(r.created_at).toISOString(),
        data: r.payload,
      });
      if (!parsed.event) throw new Error(`outbox row ${r.id} is not a valid ${r.type}: ${parsed.issues}`);
      return parsed.event;
    });
  }, 60_000);

  it('notifies the buyer once per notifying event, with the API.md types', async () => {
    const byOrder = new Map<string, string[]>();
    for (const n of await notificationsOf(buyer.id))
      byOrder.set(n.order_id, [...(byOrder.get(n.order_id) ?? []), n.type]);
    expect(byOrder.get(orders.confirmed.id)?.sort()).toEqual(['ORDER_CREATED', 'PAYMENT_SUCCEEDED']);
    expect(byOrder.get(orders.refunded.id)?.sort()).toEqual([
      'ORDER_CANCELLED',
      'ORDER_CREATED',
      'PAYMENT_SUCCEEDED',
      'REFUND_COMPLETED',
    ]);
    expect(byOrder.get(orders.cancelled.id)?.sort()).toEqual(['ORDER_CANCELLED', 'ORDER_CREATED']);
    expect(byOrder.get(orders.expired.id)?.sort()).toEqual(['ORDER_CREATED', 'ORDER_EXPIRED']);
    // The PAYMENT_FAILED notification already tells the order was cancelled.
    expect(byOrder.get(orders.declined.id)?.sort()).toEqual(['ORDER_CREATED', 'PAYMENT_FAILED']);
  });

  it('writes every notification in English and in Korean, each naming its order', async () => {
    const written = await rows<{
      type: string;
      title: string;
      body: string;
      title_ko: string;
      body_ko: string;
    }>(
      shop,
      sql`select n.type, n.title, n.body, n.title_ko, n.body_ko from notifications n where n.user_id = ${buyer.id}`,
    );
    const orderNos = await rows<{ order_no: string }>(
      shop,
      sql`select order_no from orders where user_id = ${buyer.id}`,
    );
    expect(written.length).toBeGreaterThan(0);
    for (const n of written) {
      expect(n.title_ko, n.type).toMatch(/[\uac00-\ud7a3]/);
      expect(n.body_ko, n.type).toMatch(/[\uac00-\ud7a3]/);
      expect(n.title, n.type).not.toMatch(/[\uac00-\ud7a3]/);
      expect(
        orderNos.some((o) => n.body_ko.includes(o.order_no) && n.body.includes(o.order_no)),
        n.type,
      ).toBe(true);
    }
  });

  it('counts only the orders that stayed paid in the sales statistics', async () => {
    const sales = await rows<{ order_id: string; units: number; revenue: number }>(
      shop,
      sql`select order_id, units, revenue::int as revenue from sales_lines where product_id = ${orders.productId}`,
    );
    expect(sales).toEqual([{ order_id: orders.confirmed.id, units: 2, revenue: 10_000 }]);
  });

  it('delivers every public event to a "*" webhook once, and records each consumer once per event', async () => {
    const publicEvents = events.filter((e) => e.type !== 'INVENTORY_ADJUSTED');
    expect(new Set(publicEvents.map((e) => e.type))).toEqual(
      new Set([
        'ORDER_CREATED',
        'INVENTORY_RESERVED',
        'PAYMENT_SUCCEEDED',
        'ORDER_PAID',
        'INVENTORY_COMMITTED',
        'ORDER_CONFIRMED',
        'ORDER_CANCELLED',
        'INVENTORY_RELEASED',
        'REFUND_COMPLETED',
        'INVENTORY_RESTOCKED',
        'PAYMENT_FAILED',
      ]),
    );
    await eventually(async () => receiver.received.length >= publicEvents.length);
    const delivered = receiver.received.map((r) => JSON.parse(r.rawBody).id).sort();
    expect(delivered).toEqual(publicEvents.map((e) => e.id).sort());
    const processed = await rows<{ consumer: string; n: number }>(
      shop,
      sql`select consumer, count(*)::int as n from processed_messages
          where consumer in ('notifications', 'sales-stats', 'webhooks') group by consumer order by consumer`,
    );
    expect(processed).toEqual([
      {
        consumer: 'notifications',
        // Every event that makes a notification; a cancellation for a failed payment makes none (the
        // PAYMENT_FAILED notification says it), so nothing is recorded for it.
        n: events.filter(
          (e) =>
            [
              'ORDER_CREATED',
              'PAYMENT_SUCCEEDED',
              'PAYMENT_FAILED',
              'ORDER_CANCELLED',
              'REFUND_COMPLETED',
            ].includes(e.type) && !(e.type === 'ORDER_CANCELLED' && e.data.cancelReason === 'PAYMENT_FAILED'),
        ).length,
      },
      {
        consumer: 'sales-stats',
        n: events.filter((e) => ['ORDER_PAID', 'ORDER_CANCELLED'].includes(e.type)).length,
      },
      { consumer: 'webhooks', n: publicEvents.length },
    ]);
  });

  it('measures the outbox lag of every consumer (commit → applied), in the database and in the histogram', async () => {
    const res = await shop.request('GET', '/api/v1/admin/outbox/lag?sinceSeconds=600', {
      token: admin.token,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: { consumer: string }) => r.consumer)).toEqual([
      'notifications',
      'sales-stats',
      'webhooks',
    ]);
    for (const lag of res.body.data) {
      expect(lag.events).toBeGreaterThan(0);
      expect(lag.p50Ms).toBeLessThanOrEqual(lag.p99Ms);
      expect(lag.p99Ms).toBeLessThanOrEqual(lag.maxMs);
      expect(lag.maxMs).toBeLessThanOrEqual(Date.now() - fileStartedAt);
    }
    const histogram = await eventConsumerLagSeconds.get();
    const counts = Object.fromEntries(
      histogram.values
        .filter((v) => v.metricName === 'shop_event_consumer_lag_seconds_count')
        .map((v) => [v.labels.consumer, v.value]),
    );
    for (const consumer of ['notifications', 'sales-stats', 'webhooks', 'order-status']) {
      expect(counts[consumer]).toBeGreaterThan(0);
    }
  });

  it('changes nothing when every event is delivered again under another job id', async () => {
    const before = await snapshot();
    const received = receiver.received.length;
    const jobs = await shop.ctx.queues.events.addBulk(
      events.map((e) => ({ name: e.type, data: e, opts: { jobId: `${e.id}-again` } })),
    );
    await eventually(async () => {
      const states = await Promise.all(jobs.map((j) => j.getState()));
      return states.every((s) => s === 'completed');
    });
    await eventsSettled(shop);
    expect(await snapshot()).toEqual(before);
    expect(receiver.received.length).toBe(received);
  });

  it('changes nothing when every event is delivered again, all in one job (consumers that apply many at once)', async () => {
    const before = await snapshot();
    const received = receiver.received.length;
    const job = await shop.ctx.queues.events.add('EVENTS', { events }, { jobId: `all-again-${Date.now()}` });
    await eventually(async () => (await job.getState()) === 'completed');
    await eventsSettled(shop);
    expect(await snapshot()).toEqual(before);
    expect(receiver.received.length).toBe(received);
  });

  it('changes nothing when the consumers are handed the same events concurrently', async () => {
    const before = await snapshot();
    await Promise.all(
      events.flatMap((e) => [
        dispatchEvent(shop.ctx, e, shop.ctx.log),
        dispatchEvent(shop.ctx, e, shop.ctx.log),
      ]),
    );
    await eventsSettled(shop);
    expect(await snapshot()).toEqual(before);
  });
});

describe('a consumer that fails', () => {
  it("fails the event with the cause in the error's message (what Bull Board shows) and the others still apply it", async () => {
    const failing = {
      name: 'failing-test-consumer',
      handles: () => true,
      apply: async () => {
        throw new Error('the warehouse is on fire');
      },
    };
    const applied: string[] = [];
    const working = {
      name: 'working-test-consumer',
      handles: () => true,
      apply: async (_ctx: unknown, event: DomainEventMessage) => {
        applied.push(event.id);
        return 'applied' as const;
      },
    };
    const productId = await createProduct(shop, seller, { stock: 5 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const [row] = await rows<{
      id: string;
      type: string;
      payload: Record<string, unknown>;
      created_at: string;
    }>(
      shop,
      sql`select id, type, payload, created_at from outbox_events
          where queue = 'events' and type = 'ORDER_CREATED' and aggregate_id = ${order.id}`,
    );
    const { event } = parseDomainEvent({
      id: row!.id,
      type: row!.type,
      aggregateType: 'order',
      aggregateId: order.id,
      occurredAt: new Date(row!.created_at).toISOString(),
      data: row!.payload,
    });
    expect(event).toBeDefined();
    await expect(dispatchEvent(shop.ctx, event!, shop.ctx.log, [failing, working])).rejects.toThrow(
      /failed in failing-test-consumer: Error: the warehouse is on fire/,
    );
    expect(applied).toEqual([event!.id]);
  });
});
