import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { webhookAttemptsTotal } from '../../src/messaging/event-metrics';
import { createProduct } from '../support/catalog';
import { rows, startReceiver, type WebhookReceiver } from '../support/events';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

const ORDERS = 30;

describe('an endpoint that keeps failing', () => {
  let shop: TestShop;
  let hooks: WebhookReceiver;
  let failing = true;
  beforeAll(async () => {
    shop = await createTestShop({
      WORKERS: 'all',
      WEBHOOK_MAX_ATTEMPTS: '8',
      WEBHOOK_RETRY_BASE_MS: '200',
      WEBHOOK_BREAKER_FAILURES: '3',
      WEBHOOK_BREAKER_PAUSE_MS: '1000',
      WEBHOOK_DISABLE_AFTER: '0',
    });
    hooks = await startReceiver(() => (failing ? 503 : 200));
  });
  afterAll(async () => {
    await shop?.close();
    await hooks?.close();
  });

  const one = async <T>(statement: ReturnType<typeof sql>) => (await rows<T>(shop, statement))[0]!;
  const jobCounts = () =>
    shop.ctx.queues.webhooks.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  const alertedAttempts = async () =>
    (await webhookAttemptsTotal.get()).values.find((v) => v.labels.outcome === 'ALERTED')?.value ?? 0;
  const deliveryJobs = async () => Object.values(await jobCounts()).reduce((a, b) => a + b, 0);

  it('is paused: its events wait in PostgreSQL, not as a Redis job each, and all arrive once it recovers', async () => {
    const admin = await shop.createUser('ADMIN');
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 1000 });
    const registered = await shop.request('POST', '/api/v1/admin/webhooks', {
      token: admin.token,
      body: { url: hooks.url, events: ['ORDER_CREATED'], secret: 'whsec-0123456789abcdef' },
    });
    expect(registered.status).toBe(201);
    const webhookId: string = registered.body.data.id;
    const alertedBefore = await alertedAttempts();

    const orders = [];
    for (let i = 0; i < ORDERS; i++) orders.push(await placeOrder(shop, buyer, [{ productId, quantity: 1 }]));

    // Every event ends up held; what stays in Redis is at most the endpoint's one probe.
    await eventually(async () => {
      const { n } = await one<{ n: number }>(
        sql`select count(*)::int as n from webhook_backlog where webhook_id = ${webhookId}`,
      );
      return n === ORDERS && (await deliveryJobs()) <= 1;
    }, 30_000);
    const paused = await one<{ paused_until: string | null }>(
      sql`select paused_until from webhooks where id = ${webhookId}`,
    );
    expect(paused.paused_until).not.toBeNull();

    // A probe fails: the endpoint stays paused and holds everything.
    await eventually(
      async () =>
        (
          await one<{ n: number }>(
            sql`select count(*)::int as n from webhook_deliveries where webhook_id = ${webhookId} and outcome = 'ALERTED'`,
          )
        ).n >= 1,
      20_000,
    );
    // ShopWebhookDeliveriesAlerted reads this: a failed probe counts as an ALERTED attempt.
    expect(await alertedAttempts()).toBeGreaterThan(alertedBefore);
    // The failed probe schedules the next one before its own job ends: one probe may be running while
    // its successor waits, never more than one waiting.
    const { active = 0, ...queued } = await jobCounts();
    expect(Object.values(queued).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1);
    expect(active).toBeLessThanOrEqual(1);

    // The receiver recovers: the next probe closes the circuit and the backlog is delivered.
    failing = false;
    await eventually(async () => {
      const delivered = new Set(
        hooks.received.filter((r) => r.status === 200).map((r) => JSON.parse(r.rawBody).id as string),
      );
      return delivered.size === ORDERS;
    }, 30_000);
    const after = await one<{ paused_until: string | null; failure_streak: number; held: number }>(
      sql`select paused_until, failure_streak,
                 (select count(*)::int from webhook_backlog where webhook_id = ${webhookId}) as held
          from webhooks where id = ${webhookId}`,
    );
    expect(after).toEqual({ paused_until: null, failure_streak: 0, held: 0 });
    const deliveredIds = hooks.received.filter((r) => r.status === 200).map((r) => JSON.parse(r.rawBody).id);
    expect(deliveredIds).toHaveLength(ORDERS);
    const createdEvents = await rows<{ id: string }>(
      shop,
      sql`select id from outbox_events where type = 'ORDER_CREATED'
          and aggregate_id = any(${orders.map((o) => o.id)}::text[])`,
    );
    expect(new Set(deliveredIds)).toEqual(new Set(createdEvents.map((e) => e.id)));
  }, 90_000);
});
