import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/errors/domain-error';
import { isPublicAddress } from '../../src/webhooks/endpoint-guard';
import { postSignedEvent } from '../../src/webhooks/post-signed';
import { registerWebhook } from '../../src/webhooks/webhooks.service';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let admin: TestUser;
let buyer: TestUser;

beforeAll(async () => {
  shop = await createTestShop();
  [admin, buyer] = await Promise.all([shop.createUser('ADMIN'), shop.createUser('BUYER')]);
});
afterAll(() => shop?.close());

const valid = { url: 'https://hooks.example.com/shop', events: ['ORDER_PAID'], secret: 'x'.repeat(16) };
const create = (body: unknown, token = admin.token) =>
  shop.request('POST', '/api/v1/admin/webhooks', { token, body });

describe('registering an endpoint', () => {
  it('answers 201 with the endpoint, never its secret', async () => {
    const res = await create({ ...valid, events: ['ORDER_PAID', 'ORDER_PAID', 'REFUND_COMPLETED'] });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      url: valid.url,
      events: ['ORDER_PAID', 'REFUND_COMPLETED'],
      active: true,
      status: 'ACTIVE',
      consecutiveFailures: 0,
      stats: { attempts: 0, delivered: 0, alerted: 0, lastError: null },
    });
    expect(JSON.stringify(res.body)).not.toContain(valid.secret);
  });

  it("accepts '*' and every event type of SPEC §7", async () => {
    expect((await create({ ...valid, events: ['*'] })).status).toBe(201);
    const all = [
      'ORDER_CREATED',
      'ORDER_PAID',
      'ORDER_CONFIRMED',
      'ORDER_CANCELLED',
      'PAYMENT_SUCCEEDED',
      'PAYMENT_FAILED',
      'REFUND_COMPLETED',
      'INVENTORY_RESERVED',
      'INVENTORY_COMMITTED',
      'INVENTORY_RELEASED',
      'INVENTORY_RESTOCKED',
      'COUPON_ISSUED',
      'COUPON_USED',
      'COUPON_RESTORED',
      'COUPON_EXPIRED',
    ];
    expect((await create({ ...valid, events: all })).status).toBe(201);
  });

  it.each([
    ['a non-http URL', { url: 'ftp://hooks.example.com/x' }, 'body.url'],
    ['a relative URL', { url: '/hooks' }, 'body.url'],
    ['a URL with credentials', { url: 'https://user:pw@hooks.example.com/' }, 'body.url'],
    ['an over-long URL', { url: `https://example.com/${'a'.repeat(2100)}` }, 'body.url'],
    ['no events', { events: [] }, 'body.events'],
    ['an unknown event type', { events: ['ORDER_PAID', 'NOPE'] }, 'body.events.1'],
    ['an internal event type', { events: ['INVENTORY_ADJUSTED'] }, 'body.events.0'],
    ['a secret under 16 characters', { secret: 'x'.repeat(15) }, 'body.secret'],
    ['a secret over 256 characters', { secret: 'x'.repeat(257) }, 'body.secret'],
    ['a numeric secret', { secret: 12345678901234 }, 'body.secret'],
  ])('refuses %s with 400 naming the field', async (_, change, field) => {
    const res = await create({ ...valid, ...change });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('VALIDATION_ERROR');
    expect(res.body.details).toContainEqual(expect.objectContaining({ field }));
  });

  it('is for admins only', async () => {
    expect((await create(valid, buyer.token)).status).toBe(403);
    expect((await shop.request('POST', '/api/v1/admin/webhooks', { body: valid })).status).toBe(401);
    expect((await shop.request('GET', '/api/v1/admin/webhooks', { token: buyer.token })).status).toBe(403);
    const id = crypto.randomUUID();
    expect(
      (await shop.request('DELETE', `/api/v1/admin/webhooks/${id}`, { token: buyer.token })).status,
    ).toBe(403);
  });

  it('allows loopback and private URLs outside production', async () => {
    expect((await create({ ...valid, url: 'http://127.0.0.1:9/hooks' })).status).toBe(201);
    expect((await create({ ...valid, url: 'http://localhost:9/hooks' })).status).toBe(201);
  });
});

describe('SSRF protection in production', () => {
  const production = () => ({ ...shop.ctx, config: { ...shop.ctx.config, isProduction: true } });
  const refusal = async (url: string) => {
    try {
      await registerWebhook(production(), { id: admin.id, role: 'ADMIN' }, { ...valid, url });
      return undefined;
    } catch (error) {
      if (!isDomainError(error)) throw error;
      return error;
    }
  };

  it.each([
    'http://127.0.0.1/x',
    'http://127.1.2.3:8080/x',
    'http://localhost/x',
    'http://10.1.2.3/x',
    'http://172.16.0.9/x',
    'http://192.168.1.1/x',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.0.1/x',
    'http://0.0.0.0/x',
    'http://[::1]/x',
    'http://[fd00::1]/x',
    'http://[fe80::1]/x',
    'http://[::ffff:127.0.0.1]/x',
    'http://[::ffff:a9fe:a9fe]/x',
    'http://unresolvable.invalid/x',
  ])('refuses %s', async (url) => {
    const error = await refusal(url);
    expect(error?.code).toBe('VALIDATION_ERROR');
    expect(error?.details?.[0]).toMatchObject({ field: 'body.url' });
  });

  it('accepts a public address', async () => {
    expect(await refusal('https://93.184.215.14/hooks')).toBeUndefined();
    expect(await refusal('https://[2606:4700::6810:85e5]/hooks')).toBeUndefined();
  });

  it('classifies addresses of both families', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '2001:4860:4860::8888']) expect(isPublicAddress(a)).toBe(true);
    for (const a of [
      '127.0.0.1',
      '10.0.0.1',
      '::1',
      'fc00::1',
      '224.0.0.1',
      '255.255.255.255',
      'not-an-ip',
    ]) {
      expect(isPublicAddress(a)).toBe(false);
    }
  });

  it('refuses to connect to a non-public address at delivery time (DNS may change after registration)', async () => {
    for (const url of ['http://127.0.0.1:9/x', 'http://localhost:9/x']) {
      const result = await postSignedEvent({
        url,
        secret: valid.secret,
        eventType: 'ORDER_PAID',
        rawBody: '{}',
        timeoutMs: 1000,
        publicOnly: true,
      });
      expect(result.statusCode).toBeNull();
      expect(result.error).toMatch(/not a public address|non-public address/);
    }
  });
});

describe('listing and removing', () => {
  it('lists endpoints newest first with paging, and 404s an unknown id on delete', async () => {
    const first = await create({ ...valid, url: 'https://a.example.com/' });
    const second = await create({ ...valid, url: 'https://b.example.com/' });
    const list = await shop.request('GET', '/api/v1/admin/webhooks?size=2', { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((w: { id: string }) => w.id)).toEqual([
      second.body.data.id,
      first.body.data.id,
    ]);
    expect(list.body.meta).toMatchObject({ page: 0, size: 2 });
    expect(list.body.meta.totalElements).toBeGreaterThanOrEqual(2);
    const unknown = await shop.request('DELETE', `/api/v1/admin/webhooks/${crypto.randomUUID()}`, {
      token: admin.token,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('NOT_FOUND');
    const malformed = await shop.request('DELETE', '/api/v1/admin/webhooks/42', { token: admin.token });
    expect(malformed.status).toBe(400);
  });
});
