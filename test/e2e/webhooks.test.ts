import { createHmac } from 'node:crypto';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { verifyWebhook } from '../../src/webhooks/signature';
import { createProduct } from '../support/catalog';
import { eventsSettled, rows, startReceiver, type WebhookReceiver } from '../support/events';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
let admin: TestUser;
let productId: string;
const receivers: WebhookReceiver[] = [];
const SECRET = 'whsec-0123456789abcdef';

beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'all',
    WEBHOOK_MAX_ATTEMPTS: '3',
    WEBHOOK_RETRY_BASE_MS: '100',
    WEBHOOK_TIMEOUT_MS: '300',
    WEBHOOK_DISABLE_AFTER: '2',
  });
  [seller, buyer, admin] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('BUYER'),
    shop.createUser('ADMIN'),
  ]);
  productId = await createProduct(shop, seller, { stock: 1000 });
});
afterAll(async () => {
  await shop?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(answer?: Parameters<typeof startReceiver>[0]) {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

async function register(url: string, events: string[], secret = SECRET): Promise<string> {
  const res = await shop.request('POST', '/api/v1/admin/webhooks', {
    token: admin.token,
    body: { url, events, secret },
  });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

const attemptsOf = (webhookId: string) =>
  rows<{ attempt: number; outcome: string; status_code: number | null; error: string | null; at: string }>(
    shop,
    sql`select attempt, outcome, status_code, error, at from webhook_deliveries
        where webhook_id = ${webhookId} order by at, attempt`,
  );

const endpoint = async (id: string) => {
  const res = await shop.request('GET', '/api/v1/admin/webhooks?size=100', { token: admin.token });
  return res.body.data.find((w: { id: string }) => w.id === id);
};

/** The receiver's own check, written from API.md alone (not with the shop's signing code). */
/**
 * Proves that a delivery did NOT happen without a fixed sleep: a marker endpoint registered now gets
 * the ORDER_CREATED of a later order (so that event was fanned out to every endpoint then subscribed),
 * and then every event and webhook job is finished. Whatever was going to reach an endpoint has.
 */
async function afterFanOutOfALaterOrder(): Promise<void> {
  const marker = await receiver();
  await register(marker.url, ['ORDER_CREATED']);
  const later = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
  await eventually(async () => marker.received.some((d) => JSON.parse(d.rawBody).data?.orderId === later.id));
  await eventsSettled(shop);
}

function signatureMatches(secret: string, headers: Record<string, unknown>, rawBody: string): boolean {
  const expected = createHmac('sha256', secret)
    .update(`${headers['x-shop-timestamp']}.${rawBody}`)
    .digest('hex');
  return headers['x-shop-signature'] === `sha256=${expected}`;
}

describe('signed deliveries', () => {
  it('POSTs {id, type, occurredAt, data} with a signature a receiver can verify, and a tampered body fails it', async () => {
    const hooks = await receiver();
    await register(hooks.url, ['ORDER_CREATED']);
    const before = Math.floor(Date.now() / 1000);
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await eventually(async () => hooks.received.length >= 1);
    const [delivery] = hooks.received;
    const body = JSON.parse(delivery!.rawBody);
    expect(Object.keys(body).sort()).toEqual(['data', 'id', 'occurredAt', 'type']);
    expect(body).toMatchObject({ type: 'ORDER_CREATED', data: { orderId: order.id, userId: buyer.id } });
    expect(delivery!.headers['x-shop-event']).toBe('ORDER_CREATED');
    expect(delivery!.headers['content-type']).toBe('application/json');
    const timestamp = Number(delivery!.headers['x-shop-timestamp']);
    // Signed at sending: between this test's start and now (no bound on how long sending took).
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(signatureMatches(SECRET, delivery!.headers, delivery!.rawBody)).toBe(true);
    const headers = {
      signature: delivery!.headers['x-shop-signature'] as string,
      timestamp: delivery!.headers['x-shop-timestamp'] as string,
    };
    expect(verifyWebhook(SECRET, headers, delivery!.rawBody)).toBe(true);
    const tampered = delivery!.rawBody.replace(order.id, crypto.randomUUID());
    expect(signatureMatches(SECRET, delivery!.headers, tampered)).toBe(false);
    expect(verifyWebhook(SECRET, headers, tampered)).toBe(false);
    expect(verifyWebhook('another-secret-of-length', headers, delivery!.rawBody)).toBe(false);
    // A replay ten minutes later is outside the receiver's tolerance.
    expect(verifyWebhook(SECRET, headers, delivery!.rawBody, timestamp + 600)).toBe(false);
  });

  it('sends an endpoint only the event types it subscribed to', async () => {
    const hooks = await receiver();
    await register(hooks.url, ['ORDER_CANCELLED']);
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const cancelled = await shop.request('POST', `/api/v1/orders/${order.id}/cancel`, { token: buyer.token });
    expect([200, 202]).toContain(cancelled.status);
    await eventually(async () => hooks.received.length >= 1);
    // Whatever else was going to reach the endpoint (the order's other events, a later order's) has.
    await afterFanOutOfALaterOrder();
    const types = hooks.received.map((r) => r.headers['x-shop-event']);
    expect(types).toEqual(['ORDER_CANCELLED']);
    expect(JSON.parse(hooks.received[0]!.rawBody).data).toMatchObject({
      orderId: order.id,
      cancelReason: 'USER_CANCELLED',
    });
  });
});

describe('retries', () => {
  it('retries a failing delivery with growing backoff, recording every attempt, until a 2xx', async () => {
    const hooks = await receiver((_, i) => (i < 2 ? 503 : 204));
    const id = await register(hooks.url, ['ORDER_CREATED']);
    await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await eventually(async () => (await attemptsOf(id)).some((a) => a.outcome === 'DELIVERED'));
    const attempts = await attemptsOf(id);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.status_code])).toEqual([
      [1, 'RETRYING', 503],
      [2, 'RETRYING', 503],
      [3, 'DELIVERED', 204],
    ]);
    const gaps = [1, 2].map((i) => Date.parse(attempts[i]!.at) - Date.parse(attempts[i - 1]!.at));
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    // Every attempt carried the same event, freshly signed.
    expect(new Set(hooks.received.map((r) => JSON.parse(r.rawBody).id)).size).toBe(1);
    expect(hooks.received.every((r) => signatureMatches(SECRET, r.headers, r.rawBody))).toBe(true);
    expect(await endpoint(id)).toMatchObject({
      status: 'ACTIVE',
      consecutiveFailures: 0,
      stats: { attempts: 3, delivered: 1, failedAttempts: 2, alerted: 0, lastError: 'HTTP 503' },
    });
  });

  it('after the last failed attempt ALERTs the delivery and marks the endpoint FAILING', async () => {
    const hooks = await receiver(() => 500);
    const id = await register(hooks.url, ['ORDER_CREATED']);
    await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await eventually(async () => (await attemptsOf(id)).some((a) => a.outcome === 'ALERTED'));
    expect((await attemptsOf(id)).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'RETRYING'],
      [2, 'RETRYING'],
      [3, 'ALERTED'],
    ]);
    expect(hooks.received).toHaveLength(3);
    expect(await endpoint(id)).toMatchObject({
      status: 'FAILING',
      active: true,
      consecutiveFailures: 1,
      stats: { attempts: 3, delivered: 0, failedAttempts: 3, alerted: 1 },
    });
  });

  it('counts a receiver that does not answer in time as a failed attempt', async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const id = await register(`http://127.0.0.1:${port}/never-answers`, ['ORDER_CREATED']);
      await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
      await eventually(async () => (await attemptsOf(id)).some((a) => a.outcome === 'ALERTED'));
      const attempts = await attemptsOf(id);
      expect(attempts).toHaveLength(3);
      expect(attempts.every((a) => a.status_code === null && a.error === 'timed out after 300 ms')).toBe(
        true,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('disables an endpoint after WEBHOOK_DISABLE_AFTER deliveries in a row were ALERTED', async () => {
    const hooks = await receiver(() => 500);
    const id = await register(hooks.url, ['ORDER_CREATED']);
    await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await eventually(async () => (await endpoint(id)).status === 'DISABLED');
    expect(await endpoint(id)).toMatchObject({
      active: false,
      consecutiveFailures: 2,
      stats: { alerted: 2 },
    });
    const received = hooks.received.length;
    await afterFanOutOfALaterOrder();
    expect(hooks.received.length).toBe(received);
  });
});

describe('removing an endpoint', () => {
  it('stops deliveries to it, keeps its history, and answers 404 the second time', async () => {
    const hooks = await receiver();
    const id = await register(hooks.url, ['ORDER_CREATED']);
    await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await eventually(async () => hooks.received.length === 1);
    const removed = await shop.request('DELETE', `/api/v1/admin/webhooks/${id}`, { token: admin.token });
    expect(removed.status).toBe(200);
    expect(removed.body.data).toMatchObject({ id, active: false });
    expect(await endpoint(id)).toBeUndefined();
    await afterFanOutOfALaterOrder();
    expect(hooks.received).toHaveLength(1);
    expect(await attemptsOf(id)).toHaveLength(1);
    const again = await shop.request('DELETE', `/api/v1/admin/webhooks/${id}`, { token: admin.token });
    expect(again.status).toBe(404);
  });
});
