import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntilReady } from '../../src/messaging/redis';
import { createTestShop, type TestShop } from '../support/test-shop';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop();
});
afterAll(() => shop?.close());

/** Pages and their assets, not API: the only routes the document may leave out. */
const UI_PAGES = ['/docs', '/docs/scalar.js', '/machines/order', '/machines/assets/mermaid.min.js'];
/** Bull Board: its page, its own JSON API and its static files. */
const UI_PREFIXES = ['/admin/queues'];
const isUiRoute = (path: string) =>
  UI_PAGES.includes(path) || UI_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));

/** Hono's `/products/:id` (optionally `:id{regex}`) is OpenAPI's `/products/{id}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');

describe('GET /openapi.json documents every route the app serves', () => {
  it('lists every registered route (method and full path) except the UI pages', async () => {
    const res = await shop.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const documented = new Set(
      Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    const served = new Set(
      shop.app.routes
        .filter((r) => r.method !== 'ALL' && !isUiRoute(r.path))
        .map((r) => `${r.method} ${openApiPath(r.path)}`),
    );
    expect(served.size).toBeGreaterThan(20);
    expect([...served].filter((route) => !documented.has(route))).toEqual([]);
    for (const route of [
      'GET /api/v1/products/{id}',
      'GET /health/ready',
      'GET /metrics',
      'GET /openapi.json',
    ])
      expect(documented).toContain(route);
  });

  it('writes paths in full, declares bearer auth and documents error answers', async () => {
    const doc = (await shop.request('GET', '/openapi.json')).body;
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(Object.keys(doc.paths).every((p: string) => p.startsWith('/'))).toBe(true);
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    const restock = doc.paths['/api/v1/inventory/{productId}/restock'].post;
    expect(restock.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(restock.responses)).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '404']),
    );
    expect(doc.paths['/api/v1/machines/{name}'].get.responses['404']).toBeDefined();
  });
});

describe('GET /docs serves an offline API reference', () => {
  it('is an HTML page loading the reference bundle from this server, not a CDN', async () => {
    const page = await shop.app.request('/docs');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script src="/docs/scalar.js"></script>');
    expect(html).toContain("url: '/openapi.json'");
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('serves the Scalar bundle from the installed package, cacheable', async () => {
    const res = await shop.app.request('/docs/scalar.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toContain('max-age');
    expect((await res.text()).length).toBeGreaterThan(1_000_000);
  });
});

describe('health routes', () => {
  it('answers live and ready when PostgreSQL and Redis answer', async () => {
    expect((await shop.request('GET', '/health/live')).body).toEqual({ data: { status: 'UP' } });
    await waitUntilReady(shop.ctx.redis);
    const ready = await shop.request('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.data).toEqual({ status: 'UP', checks: { database: 'UP', redis: 'UP' } });
  });
});
