import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestShop, type TestShop } from '../support/test-shop';

// Issue 14 item 6: no CORS at all — a storefront on another origin could not call the API, a
// preflight got 404. CORS_ORIGINS lists the origins allowed (none by default).

const STOREFRONT = 'https://store.example';

const preflight = (shop: TestShop, origin: string, method = 'POST') =>
  shop.request('OPTIONS', '/api/v1/auth/login', {
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'content-type,authorization,idempotency-key',
    },
  });

describe('CORS_ORIGINS set', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop({ CORS_ORIGINS: `${STOREFRONT}, https://admin.store.example` });
  });
  afterAll(() => shop?.close());

  it('answers a preflight from a listed origin with 204 and the allowed methods and headers', async () => {
    const res = await preflight(shop, STOREFRONT);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(STOREFRONT);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('lets the listed origin read answers (errors too) and exposes Location and Retry-After', async () => {
    const res = await shop.request('GET', '/api/v1/auth/me', {
      headers: { origin: STOREFRONT, authorization: 'Bearer nonsense' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(STOREFRONT);
    expect(res.headers.get('access-control-expose-headers')).toContain('Retry-After');
  });

  it('gives an unlisted origin nothing to go on', async () => {
    const res = await preflight(shop, 'https://evil.example');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const get = await shop.request('GET', '/api/v1/products', {
      headers: { origin: 'https://evil.example' },
    });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS_ORIGINS unset (the default)', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await createTestShop();
  });
  afterAll(() => shop?.close());

  it('sends no CORS header to anyone', async () => {
    const res = await preflight(shop, STOREFRONT);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const get = await shop.request('GET', '/api/v1/products', { headers: { origin: STOREFRONT } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a malformed CORS_ORIGINS at start-up', async () => {
    const { loadConfig } = await import('../../src/config');
    expect(() => loadConfig({ CORS_ORIGINS: 'https://store.example/' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example,http://localhost:5173' }).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:5173',
    ]);
  });
});
