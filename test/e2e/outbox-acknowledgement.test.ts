import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { WEBHOOK_BATCH, type WebhookBatchJob, type WebhookDeliveryJob } from '../../src/messaging/messages';
import { eventsWorker } from '../../workers/events.worker';
import { type RunningWorker, startWorker } from '../../workers/runtime';
import { webhooksWorker } from '../../workers/webhooks.worker';
import { createProduct } from '../support/catalog';
import { rows, startReceiver, type WebhookReceiver } from '../support/events';
import { placeOrder } from '../support/orders';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

interface OutboxState {
  id: string;
  type: string;
  status: string;
  attempts: number;
  deliveries: number;
  consumers: string[] | null;
  last_error: string | null;
}

const eventsOf = (shop: TestShop, aggregateIds: string[]) =>
  rows<OutboxState>(
    shop,
    sql`select id, type, status, attempts, deliveries, consumers, last_error from outbox_events
        where queue = 'events' and aggregate_id = any(${aggregateIds}::text[]) order by created_at, id`,
  );

const countRows = async (shop: TestShop, statement: ReturnType<typeof sql>) =>
  (await rows<{ n: number }>(shop, statement))[0]!.n;

describe('events delivered to a Redis that then restarts empty', () => {
  let redis: PrivateRedis;
  let shop: TestShop;
  let consumers: RunningWorker | undefined;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    // No events worker yet: the relay delivers (rows become SENT) but nothing consumes the jobs.
    shop = await createTestShop({
      REDIS_URL: redis.url,
      WORKERS: 'order,inventory,outbox',
      OUTBOX_ACK_DEADLINE_MS: '500',
    });
  });
  afterAll(async () => {
    await consumers?.close();
    await shop?.close();
    await redis?.stop();
  });

  it('are delivered again once their consumers have not acknowledged them, and applied once each', async () => {
    const seller = await shop.createUser('SELLER');
    const buyers = await Promise.all(Array.from({ length: 8 }, () => shop.createUser('BUYER')));
    const productId = await createProduct(shop, seller, { stock: 100 });
    const orders = await Promise.all(buyers.map((b) => placeOrder(shop, b, [{ productId, quantity: 1 }])));
    const ids = orders.map((o) => o.id);
    await eventually(async () => {
      const events = await eventsOf(shop, ids);
      return events.length === 16 && events.every((e) => e.status === 'SENT');
    });
    const sent = await eventsOf(shop, ids);
    const created = sent.filter((e) => e.type === 'ORDER_CREATED');
    expect(created).toHaveLength(8);
    // The relay named who must acknowledge each event when it delivered it.
    expect(created.every((e) => e.consumers?.includes('notifications'))).toBe(true);
    // Still queued in Redis past the deadline: a slow consumer is not a lost event.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await eventsOf(shop, ids)).every((e) => e.status === 'SENT' && e.attempts === 0)).toBe(true);

    await redis.restart();
    consumers = await startWorker(shop.ctx, 'events', eventsWorker);

    await eventually(
      async () =>
        (await countRows(
          shop,
          sql`select count(*)::int as n from notifications where order_id = any(${ids}::uuid[]) and type = 'ORDER_CREATED'`,
        )) === 8,
      30_000,
    );
    await eventually(async () => (await eventsOf(shop, ids)).every((e) => e.status === 'SENT'), 15_000);
    const after = await eventsOf(shop, ids);
    const createdAfter = after.filter((e) => e.type === 'ORDER_CREATED');
    // Delivered twice (the second time under a new job id), counted as one attempt, applied once.
    expect(createdAfter.every((e) => e.deliveries === 2 && e.attempts === 1)).toBe(true);
    expect(
      await countRows(
        shop,
        sql`select count(*)::int as n from processed_messages
            where consumer = 'notifications' and message_id = any(${created.map((e) => e.id)}::text[])`,
      ),
    ).toBe(8);
  }, 60_000);
});

describe('an event a consumer never manages to apply', () => {
  let shop: TestShop;
  let admin: TestUser;
  beforeAll(async () => {
    shop = await createTestShop({
      WORKERS: 'all',
      OUTBOX_MAX_ATTEMPTS: '2',
      OUTBOX_ACK_DEADLINE_MS: '300',
      // Each delivery's job gives up after two tries (the consumer can never succeed).
      OUTBOX_EVENT_JOB_ATTEMPTS: '2',
    });
    admin = await shop.createUser('ADMIN');
  });
  afterAll(() => shop?.close());

  it('is delivered again with backoff, ALERTED after OUTBOX_MAX_ATTEMPTS, and applied after an admin retry', async () => {
    const userId = uuidv7();
    const id = uuidv7();
    // The notification's user does not exist (yet): every delivery fails in the notifications consumer.
    await rows(
      shop,
      sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, attempts,
                                     next_attempt_at, created_at)
          values (${id}, 'coupon', ${userId}, 'COUPON_ISSUED',
                  ${JSON.stringify({ userId, code: 'WELCOME' })}::jsonb, 'events', 'PENDING', 0, now(), now())`,
    );
    const state = async () => (await eventsOf(shop, [userId]))[0]!;
    await eventually(async () => (await state()).status === 'ALERTED', 45_000, 100);
    const alerted = await state();
    expect(alerted.attempts).toBe(2);
    expect(alerted.deliveries).toBe(2);
    expect(alerted.last_error).toContain('not acknowledged');
    expect(alerted.last_error).toContain('notifications');

    // The operator fixes the cause, then retries it.
    const now = new Date();
    await rows(
      shop,
      sql`insert into users (id, email, name, role, password_hash, balance, created_at, updated_at)
          values (${userId}, ${`late-${userId}@test.local`}, 'Late', 'BUYER', 'x', 0, ${now}, ${now})`,
    );
    const retry = await shop.request('POST', `/api/v1/admin/outbox/${id}/retry`, { token: admin.token });
    expect(retry.status).toBe(200);
    expect(retry.body.data).toMatchObject({ id, status: 'PENDING', attempts: 0 });
    await eventually(
      async () =>
        (await countRows(
          shop,
          sql`select count(*)::int as n from notifications where user_id = ${userId} and event_id = ${id}`,
        )) === 1,
      20_000,
    );
    // The relay publishes the job, then marks the row SENT (deliveries + 1): the consumer may apply it
    // in between, so the count is read once the relay has settled the row.
    await eventually(async () => (await state()).status === 'SENT', 20_000);
    expect((await state()).deliveries).toBe(3);
  }, 90_000);
});

describe('webhook deliveries lost with Redis after the event was fanned out', () => {
  let redis: PrivateRedis;
  let shop: TestShop;
  let hooks: WebhookReceiver;
  let deliverer: RunningWorker | undefined;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    // No webhooks worker yet: delivery jobs wait in Redis.
    shop = await createTestShop({
      REDIS_URL: redis.url,
      WORKERS: 'order,inventory,outbox,events',
      OUTBOX_ACK_DEADLINE_MS: '500',
    });
    hooks = await startReceiver();
  });
  afterAll(async () => {
    await deliverer?.close();
    await shop?.close();
    await redis?.stop();
    await hooks?.close();
  });

  it('are added again from PostgreSQL and reach the endpoint once each', async () => {
    const admin = await shop.createUser('ADMIN');
    const registered = await shop.request('POST', '/api/v1/admin/webhooks', {
      token: admin.token,
      body: { url: hooks.url, events: ['ORDER_CREATED'], secret: 'whsec-0123456789abcdef' },
    });
    expect(registered.status).toBe(201);
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 100 });
    const orders = [];
    for (let i = 0; i < 5; i++) orders.push(await placeOrder(shop, buyer, [{ productId, quantity: 1 }]));
    const ids = orders.map((o) => o.id);
    const created = async () => (await eventsOf(shop, ids)).filter((e) => e.type === 'ORDER_CREATED');
    // Fanned out: the webhooks consumer recorded every event, its delivery jobs wait in Redis.
    await eventually(
      async () =>
        (await countRows(
          shop,
          sql`select count(*)::int as n from processed_messages
              where consumer = 'webhooks' and message_id = any(${(await created()).map((e) => e.id)}::text[])`,
        )) === 5,
    );
    // One delivery job per event, or one WEBHOOK_BATCH job for the events one events job carried.
    const waiting = await shop.ctx.queues.webhooks.getWaiting();
    const waitingEvents = waiting.flatMap((job) =>
      job.name === WEBHOOK_BATCH
        ? (job.data as WebhookBatchJob).events.map((e) => e.id)
        : [(job.data as WebhookDeliveryJob).event.id],
    );
    expect(waitingEvents.sort()).toEqual((await created()).map((e) => e.id).sort());

    await redis.restart();
    deliverer = await startWorker(shop.ctx, 'webhooks', webhooksWorker);
    await eventually(
      async () => new Set(hooks.received.map((r) => JSON.parse(r.rawBody).id)).size === 5,
      30_000,
    );
    expect(new Set(hooks.received.map((r) => JSON.parse(r.rawBody).id))).toEqual(
      new Set((await created()).map((e) => e.id)),
    );
  }, 60_000);
});
