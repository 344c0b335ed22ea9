import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { redactQueryToken } from '../../src/http/middleware/auth';
import { createLogger } from '../../src/logger';
import { startTracing, stopTracing } from '../../src/tracing/tracing';
import { createFixtureProduct, placeFixtureOrder } from '../support/order-fixtures';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Security review (Low): `?access_token=` authenticated every /api route, writes included
// (`POST /balances/charge?access_token=…` → 200). Only the order event stream may take it (EventSource
// cannot send headers); anywhere else it must not authenticate, and it must not reach the logs.

const exporter = new InMemorySpanExporter();
let shop: TestShop;
let buyer: TestUser;
let orderId: string;

beforeAll(async () => {
  // Traced, so the request spans (which record the full URL) can be checked for the token.
  await startTracing({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  shop = await createTestShop();
  buyer = await shop.createUser('BUYER', { balance: 0 });
  const product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
  orderId = await placeFixtureOrder(shop, buyer, product);
});
afterAll(async () => {
  await shop?.close();
  await stopTracing();
});

const withToken = (path: string, token: string) => `${path}?access_token=${encodeURIComponent(token)}`;

describe('a token in the query string', () => {
  it('does not authenticate a write: POST /balances/charge answers 401 and charges nothing', async () => {
    const charged = await shop.request('POST', withToken('/api/v1/balances/charge', buyer.token), {
      body: { amount: 1000 },
    });
    expect(charged.status).toBe(401);
    expect(charged.body.error).toBe('UNAUTHORIZED');
    const balance = await shop.request('GET', '/api/v1/balances/me', { token: buyer.token });
    expect(balance.status).toBe(200);
    expect(balance.body.data.balance).toBe(0);
    // The same request with the token in the header is the buyer's.
    const header = await shop.request('POST', '/api/v1/balances/charge', {
      token: buyer.token,
      body: { amount: 1000 },
    });
    expect(header.status).toBe(200);
  });

  it('does not authenticate reads either, and is ignored (not refused) where no token is needed', async () => {
    expect((await shop.request('GET', withToken('/api/v1/auth/me', buyer.token))).status).toBe(401);
    expect((await shop.request('GET', withToken(`/api/v1/orders/${orderId}`, buyer.token))).status).toBe(401);
    // A public route answers as to an anonymous caller, whatever the query carries.
    expect((await shop.request('GET', withToken('/api/v1/products', 'not-a-token'))).status).toBe(200);
  });

  it('authenticates GET /orders/{id}/events (EventSource cannot send headers)', async () => {
    const events = `/api/v1/orders/${orderId}/events`;
    const res = await shop.app.request(withToken(events, buyer.token));
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    } finally {
      await res.body?.cancel();
    }
    const unknown = await shop.request(
      'GET',
      withToken(`/api/v1/orders/${crypto.randomUUID()}/events`, buyer.token),
    );
    expect(unknown.status).toBe(404);
    expect((await shop.request('GET', withToken(events, 'not-a-token'))).status).toBe(401);
    expect((await shop.request('GET', events)).status).toBe(401);
  });

  it('is kept out of the access log and the request spans (url.full redacted)', async () => {
    const lines: string[] = [];
    const log = createLogger({ logLevel: 'info' }, {}, { write: (line: string) => void lines.push(line) });
    const app = createApp({ ...shop.ctx, log });
    exporter.reset();
    const stream = await app.request(withToken(`/api/v1/orders/${orderId}/events`, buyer.token));
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
    const refused = await app.request(withToken('/api/v1/balances/charge', buyer.token), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 1 }),
    });
    expect(refused.status).toBe(401);

    const access = lines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request');
    expect(access.map((line) => `${line.status} ${line.method} ${line.path}`)).toEqual([
      `200 GET /api/v1/orders/${orderId}/events`,
      '401 POST /api/v1/balances/charge',
    ]);
    expect(lines.join('\n')).not.toContain(buyer.token);

    const spans = exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name === '@hono/otel');
    const urls = spans.map((s) => String(s.attributes['url.full']));
    expect(urls.filter((url) => url.includes('access_token'))).toHaveLength(2);
    for (const url of urls) {
      expect(url).not.toContain(buyer.token);
      if (url.includes('access_token')) expect(url).toContain('access_token=REDACTED');
    }
  });

  it('redactQueryToken replaces the token and keeps the rest of the URL', () => {
    expect(redactQueryToken('http://shop.test/api/v1/x?a=1&access_token=secret.jwt.value&b=2')).toBe(
      'http://shop.test/api/v1/x?a=1&access_token=REDACTED&b=2',
    );
    expect(redactQueryToken('http://shop.test/api/v1/x?a=1')).toBe('http://shop.test/api/v1/x?a=1');
  });
});
