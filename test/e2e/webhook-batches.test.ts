import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { type DomainEventMessage, parseDomainEvent } from '../../src/messaging/domain-events';
import { WEBHOOK_BATCH, type WebhookBatchJob } from '../../src/messaging/messages';
import { webhookBatchJobId } from '../../src/webhooks/webhook-jobs';
import { webhooksConsumer } from '../../src/webhooks/webhooks.consumer';
import { type RunningWorker, startWorker } from '../../workers/runtime';
import { webhooksWorker } from '../../workers/webhooks.worker';
import { createProduct } from '../support/catalog';
import { rows, startReceiver, type WebhookReceiver } from '../support/events';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

/**
 * The events of one events job bound for one endpoint travel as one WEBHOOK_BATCH job: one signed POST
 * each, in their order, recorded together; an event whose POST fails continues as a delivery job of
 * its own and is retried alone (webhook-batch.ts).
 */

let shop: TestShop;
let admin: TestUser;
let seller: TestUser;
let buyer: TestUser;
let deliverer: RunningWorker | undefined;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  // No events worker and no webhooks worker: the test hands the events to the consumer itself, and
  // starts the deliveries when it wants them.
  shop = await createTestShop({
    WORKERS: 'order,inventory,outbox',
    WEBHOOK_MAX_ATTEMPTS: '3',
    WEBHOOK_RETRY_BASE_MS: '50',
  });
  [admin, seller, buyer] = await Promise.all([
    shop.createUser('ADMIN'),
    shop.createUser('SELLER'),
    shop.createUser('BUYER'),
  ]);
  deliverer = await startWorker(shop.ctx, 'webhooks', webhooksWorker);
});
afterAll(async () => {
  await deliverer?.close();
  await shop?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

async function endpoint(answer?: Parameters<typeof startReceiver>[0]) {
  const receiver = await startReceiver(answer);
  receivers.push(receiver);
  const res = await shop.request('POST', '/api/v1/admin/webhooks', {
    token: admin.token,
    body: { url: receiver.url, events: ['ORDER_CREATED'], secret: 'whsec-0123456789abcdef' },
  });
  expect(res.status).toBe(201);
  return { receiver, webhookId: res.body.data.id as string };
}

/** Three new orders' ORDER_CREATED events, as the relay hands them to the events queue. */
async function orderCreatedEvents(): Promise<DomainEventMessage[]> {
  const productId = await createProduct(shop, seller, { stock: 100 });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await placeOrder(shop, buyer, [{ productId, quantity: 1 }])).id);
  const outbox = await rows<{
    id: string;
    type: string;
    aggregate_id: string;
    payload: Record<string, unknown>;
    created_at: string;
  }>(
    shop,
    sql`select id, type, aggregate_id, payload, created_at from outbox_events
        where type = 'ORDER_CREATED' and aggregate_id = any(${ids}::text[]) order by created_at, id`,
  );
  return outbox.map((r) => {
    const { event, issues } = parseDomainEvent({
      id: r.id,
      type: r.type,
      aggregateType: 'ORDER',
      aggregateId: r.aggregate_id,
      occurredAt: new Date(r.created_at).toISOString(),
      data: r.payload,
    });
    if (!event) throw new Error(`not an event: ${issues}`);
    return event;
  });
}

const attemptsOf = (webhookId: string) =>
  rows<{ event_id: string; attempt: number; outcome: string }>(
    shop,
    sql`select event_id, attempt, outcome from webhook_deliveries where webhook_id = ${webhookId}
        order by event_id, attempt`,
  );
const idOf = (rawBody: string) => (JSON.parse(rawBody) as { id: string }).id;

describe('webhook batches', () => {
  it('sends the events of one events job to an endpoint as one job: each POSTed once, in order, recorded', async () => {
    const { receiver, webhookId } = await endpoint();
    const events = await orderCreatedEvents();
    const outcomes = await webhooksConsumer.applyMany!(shop.ctx, events, shop.ctx.log, 'events-job-a');
    expect([...outcomes.values()]).toEqual(['applied', 'applied', 'applied']);
    const job = await shop.ctx.queues.webhooks.getJob(webhookBatchJobId('events-job-a', webhookId));
    if (!job) throw new Error('no WEBHOOK_BATCH job under the events job’s name');
    expect(job.name).toBe(WEBHOOK_BATCH);
    expect((job.data as WebhookBatchJob).events.map((e) => e.id)).toEqual(events.map((e) => e.id));

    await eventually(async () => (await attemptsOf(webhookId)).length === 3);
    expect(receiver.received.map((r) => idOf(r.rawBody))).toEqual(events.map((e) => e.id));
    expect((await attemptsOf(webhookId)).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'DELIVERED'],
      [1, 'DELIVERED'],
      [1, 'DELIVERED'],
    ]);
    // Handed the same events again (a retried events job): nothing is sent twice.
    const again = await webhooksConsumer.applyMany!(shop.ctx, events, shop.ctx.log, 'events-job-a');
    expect([...again.values()]).toEqual(['duplicate', 'duplicate', 'duplicate']);
  });

  it('retries an event whose POST failed as a delivery of its own, and sends its neighbours once', async () => {
    let failedOnce = false;
    const events = await orderCreatedEvents();
    const middle = events[1]!.id;
    const { receiver, webhookId } = await endpoint((delivery) => {
      if (!failedOnce && idOf(delivery.rawBody) === middle) {
        failedOnce = true;
        return 503;
      }
      return 200;
    });
    await webhooksConsumer.applyMany!(shop.ctx, events, shop.ctx.log, 'events-job-b');

    await eventually(async () =>
      (await attemptsOf(webhookId)).some((a) => a.outcome === 'DELIVERED' && a.attempt === 2),
    );
    const sent = receiver.received.map((r) => idOf(r.rawBody));
    expect(sent.filter((id) => id === middle)).toHaveLength(2);
    for (const other of [events[0]!.id, events[2]!.id])
      expect(sent.filter((id) => id === other)).toHaveLength(1);
    const attempts = await attemptsOf(webhookId);
    expect(attempts.filter((a) => a.event_id === middle).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'RETRYING'],
      [2, 'DELIVERED'],
    ]);
    expect(attempts.filter((a) => a.event_id !== middle).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'DELIVERED'],
      [1, 'DELIVERED'],
    ]);
  });
});
