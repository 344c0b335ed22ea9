import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app';
import { createHttpServer } from '../../src/http/http-server';
import { guardNodeLanes } from '../../src/http/lane-support';
import { API_SECURITY_OPTIONS } from '../../src/http/middleware/security-headers';
import { API_SECURITY_HEADERS } from '../../src/http/prepared-response';
import { createLogger } from '../../src/logger';
import { createProduct } from '../support/catalog';
import { createBuyers, createCoupon } from '../support/coupons';
import { type SendOptions, send as sendOver } from '../support/lanes';
import { createTestShop, type TestShop } from '../support/test-shop';

// Issue 12 item 4: the hot read answers from prepared bodies and precomputed headers, and the body
// limit reads Content-Length instead of making @hono/node-server build a web Request. These tests pin
// that nothing the middleware promised is lost on the way.

let shop: TestShop;
let server: ServerType;
let port: number;
/** The server as `npm start` makes it: the cached read answered on Node's own request (nodeFront). */
let nodeServer: Server;
let nodePort: number;
/** The requests that reached the shop app's router, whichever lanes they passed. */
let routed: RouterCount;
beforeAll(async () => {
  shop = await createTestShop();
  routed = countRouterRequests(shop.app);
  await new Promise<void>((resolve) => {
    server = serve({ fetch: shop.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      port = info.port;
      resolve();
    });
  });
  nodeServer = createHttpServer(shop.app);
  await new Promise<void>((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
  nodePort = (nodeServer.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await new Promise((resolve) => nodeServer?.close(resolve));
  await shop?.close();
});

interface RouterCount {
  readonly count: number;
}

/**
 * Counts the requests that reach `app`'s router — what the web lanes (app.fetch) and the Node lanes
 * (routedFetch) hand on alike: Hono's dispatch asks the app for the request's path once per request,
 * and no lane does. A lane that answers leaves the count as it was. (`getPath` is read-only in Hono's
 * types, a plain field of the instance at run time.)
 */
function countRouterRequests(app: App): RouterCount {
  const router = app as unknown as { getPath: (request: Request, options?: { env?: unknown }) => string };
  const getPath = router.getPath;
  let count = 0;
  router.getPath = (request, options) => {
    count++;
    return getPath(request, options);
  };
  return {
    get count() {
      return count;
    },
  };
}

/** One request over a real socket; `chunked` sends the body without a Content-Length. */
const send = (method: string, path: string, options?: SendOptions) => sendOver(port, method, path, options);

describe('security headers', () => {
  it('the precomputed API set is exactly what hono/secure-headers gives with the same options', async () => {
    const app = new Hono();
    app.use('*', secureHeaders(API_SECURITY_OPTIONS));
    app.get('/', (c) => c.json({}));
    const res = await app.request('/');
    const expected: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (name !== 'content-type') expected[name] = value;
    });
    const ours = Object.fromEntries(
      Object.entries(API_SECURITY_HEADERS).map(([name, value]) => [name.toLowerCase(), value]),
    );
    expect(ours).toEqual(expected);
  });

  it('a cached product read, a 404 and a validation error each carry the whole set and a request id', async () => {
    const seller = await shop.createUser('SELLER');
    const created = await shop.request('POST', '/api/v1/products', {
      token: seller.token,
      body: { name: 'Hot', price: 1000, category: 'c', initialStock: 3 },
    });
    expect(created.status).toBe(201);
    const path = `/api/v1/products/${created.body.data.id}`;
    await send('GET', path); // fills the cache: the next read is a hit
    for (const [target, status] of [
      [path, 200],
      [`/api/v1/products/${crypto.randomUUID()}`, 404],
      ['/api/v1/products/not-a-uuid', 400],
    ] as const) {
      const res = await send('GET', target, { headers: { 'x-request-id': 'trace-me-1' } });
      expect(res.status, target).toBe(status);
      expect(res.headers['x-request-id'], target).toBe('trace-me-1');
      expect(res.headers['content-type'], target).toMatch(/^application\/json/);
      for (const [name, value] of Object.entries(API_SECURITY_HEADERS))
        expect(res.headers[name.toLowerCase()], `${target} ${name}`).toBe(value);
    }
    const hit = await send('GET', path);
    expect(JSON.parse(hit.body)).toEqual({ data: created.body.data });
    expect(hit.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('body limit behind the Node server', () => {
  const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) });

  it('refuses a Content-Length over 1 MiB with 413', async () => {
    const res = await send('POST', '/api/v1/auth/login', { body: big });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a chunked body over 1 MiB with 413 (counted as it streams)', async () => {
    const res = await send('POST', '/api/v1/auth/login', { body: big, chunked: true });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error).toBe('PAYLOAD_TOO_LARGE');
  });

  it('passes bodies under the limit, with or without a Content-Length', async () => {
    const body = JSON.stringify({ email: 'nobody@example.com', password: 'wrong password' });
    for (const chunked of [false, true]) {
      const res = await send('POST', '/api/v1/auth/login', { body, chunked });
      expect(res.status, `chunked ${chunked}`).toBe(401);
    }
  });
});

describe.each([
  ['on the web Request (app.fetch)', () => port],
  ['on Node’s own request (npm start’s server)', () => nodePort],
])('the cached read lane in front of the router, %s', (_, lanePort) => {
  const send = (method: string, path: string, options?: SendOptions) =>
    sendOver(lanePort(), method, path, options);

  const histogramCount = async (status: string) => {
    const text = await (await shop.app.request('/metrics')).text();
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(
          `shop_http_request_duration_seconds_count{method="GET",route="/api/v1/products/:id",status="${status}"}`,
        ),
      );
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('answers a hit as the router answers a miss: same body, status and headers, same histogram series', async () => {
    const seller = await shop.createUser('SELLER');
    const created = await shop.request('POST', '/api/v1/products', {
      token: seller.token,
      body: { name: 'Lane', price: 500, category: 'c', initialStock: 2 },
    });
    const path = `/api/v1/products/${created.body.data.id}`;
    const before = await histogramCount('200');
    const routedBefore = routed.count;
    const miss = await send('GET', path); // the router: PostgreSQL, then cached
    expect(routed.count, 'a miss goes on to the router').toBe(routedBefore + 1);
    const hit = await send('GET', path); // the lane: Redis only
    expect(routed.count, 'a hit never reaches the router').toBe(routedBefore + 1);
    expect(await histogramCount('200')).toBe(before + 2);
    expect(hit.status).toBe(200);
    expect(hit.body).toBe(miss.body);
    expect(JSON.parse(hit.body)).toEqual({ data: created.body.data });
    const names = (res: typeof hit) =>
      Object.keys(res.headers)
        .filter((h) => !['x-request-id', 'date', 'connection', 'keep-alive'].includes(h))
        .sort();
    expect(names(hit)).toEqual(names(miss));
    for (const name of names(hit)) expect(hit.headers[name], name).toBe(miss.headers[name]);
    expect(hit.headers['x-request-id']).not.toBe(miss.headers['x-request-id']);
  });

  it('leaves a request with a token to the router, which refuses a bad one (401) even for a cached product', async () => {
    const seller = await shop.createUser('SELLER');
    const created = await shop.request('POST', '/api/v1/products', {
      token: seller.token,
      body: { name: 'Guarded', price: 500, category: 'c', initialStock: 2 },
    });
    const path = `/api/v1/products/${created.body.data.id}`;
    expect((await send('GET', path)).status).toBe(200);
    expect((await send('GET', path)).status).toBe(200);
    const bad = await send('GET', path, { headers: { authorization: 'Bearer not-a-token' } });
    expect([bad.status, JSON.parse(bad.body).error]).toEqual([401, 'UNAUTHORIZED']);
    const good = await send('GET', path, { headers: { authorization: `Bearer ${seller.token}` } });
    expect(good.status).toBe(200);
    // A query string or a trailing path is the router's too.
    expect((await send('GET', `${path}?x=1`)).status).toBe(200);
    expect((await send('GET', `${path}/reviews`)).status).toBe(200);
  });

  it('serves a changed product fresh at once (the generation check is the lane’s too)', async () => {
    const seller = await shop.createUser('SELLER');
    const created = await shop.request('POST', '/api/v1/products', {
      token: seller.token,
      body: { name: 'Before', price: 500, category: 'c', initialStock: 2 },
    });
    const path = `/api/v1/products/${created.body.data.id}`;
    await send('GET', path);
    const routedBefore = routed.count;
    expect(JSON.parse((await send('GET', path)).body).data.name).toBe('Before');
    expect(routed.count, 'the hit was the lane’s').toBe(routedBefore);
    const changed = await shop.request('PATCH', path, { token: seller.token, body: { name: 'After' } });
    expect(changed.status).toBe(200);
    expect(JSON.parse((await send('GET', path)).body).data.name).toBe('After');
  });
});

describe('the cached read on Node’s own request', () => {
  it('answers a hit without handing the request to the app’s fetch; a miss, a token, a body or a query go on to it', async () => {
    const seller = await shop.createUser('SELLER');
    const path = `/api/v1/products/${await createProduct(shop, seller, { stock: 3 })}`;
    let fetched = 0;
    const counting = createHttpServer({
      fetch: (request, ...rest) => {
        fetched++;
        return shop.app.fetch(request, ...(rest as []));
      },
      nodeFront: shop.app.nodeFront,
    });
    await new Promise<void>((resolve) => counting.listen(0, '127.0.0.1', resolve));
    const countingPort = (counting.address() as AddressInfo).port;
    try {
      const miss = await sendOver(countingPort, 'GET', path); // not cached yet: the app reads PostgreSQL
      expect([miss.status, fetched]).toEqual([200, 1]);
      const hit = await sendOver(countingPort, 'GET', path, { headers: { 'x-request-id': 'node-lane-1' } });
      expect([hit.status, fetched]).toEqual([200, 1]);
      expect(hit.body).toBe(miss.body);
      expect(hit.headers['x-request-id']).toBe('node-lane-1');
      expect(hit.headers['content-length']).toBe(String(Buffer.byteLength(hit.body)));
      const routed = [
        await sendOver(countingPort, 'GET', path, { headers: { authorization: `Bearer ${seller.token}` } }),
        await sendOver(countingPort, 'GET', `${path}?fields=all`),
        await sendOver(countingPort, 'GET', `${path}/reviews`),
        await sendOver(countingPort, 'GET', path, { body: '{}' }),
      ];
      expect(routed.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(fetched).toBe(5);
    } finally {
      await new Promise((resolve) => counting.close(resolve));
    }
  });
});

describe('a lane on Node’s own request that throws', () => {
  it('is answered with the error handler’s 500 envelope and the request id, and the server goes on', async () => {
    let calls = 0;
    const failing = createHttpServer({
      fetch: shop.app.fetch,
      nodeFront: (next) =>
        guardNodeLanes(
          async (req, res) => {
            if (calls++ === 0) throw new Error('a lane bug');
            return next(req, res);
          },
          createLogger({ logLevel: 'silent' }),
        ),
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const failingPort = (failing.address() as AddressInfo).port;
    try {
      const res = await sendOver(failingPort, 'GET', '/api/v1/coupons', {
        headers: { 'x-request-id': 'lane-bug-1' },
      });
      expect(res.status).toBe(500);
      expect(JSON.parse(res.body).error).toBe('INTERNAL');
      expect(res.headers['x-request-id']).toBe('lane-bug-1');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect((await sendOver(failingPort, 'GET', '/api/v1/coupons')).status).toBe(200);
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
  });
});

describe('access lines', () => {
  /** The shop's app with a logger at `level` writing into an array. */
  function appLoggingAt(level: string) {
    const lines: { level: string; msg: string; method?: string; path?: string; requestId?: string }[] = [];
    const log = createLogger(
      { logLevel: level as 'info' },
      {},
      {
        write: (line: string) => {
          lines.push(JSON.parse(line));
        },
      },
    );
    const app = createApp({ ...shop.ctx, log });
    return { app, lines, routed: countRouterRequests(app) };
  }

  it('are at info, except on the hot routes (cached reads, coupon claims), which log at debug', async () => {
    const seller = await shop.createUser('SELLER');
    const [buyer] = await createBuyers(shop, 1);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 1 });
    const created = await shop.request('POST', '/api/v1/products', {
      token: seller.token,
      body: { name: 'Logged', price: 500, category: 'c', initialStock: 2 },
    });
    const product = `/api/v1/products/${created.body.data.id}`;
    const issue = `/api/v1/coupons/${coupon.id}/issue`;
    /** Which of the requests reached the router (the rest a lane answered). */
    const run = async ({ app, routed }: ReturnType<typeof appLoggingAt>) => {
      const reached: boolean[] = [];
      const send = async (path: string, init?: RequestInit) => {
        const before = routed.count;
        await app.request(path, init);
        reached.push(routed.count > before);
      };
      await send(product); // the router (the cache may be cold)
      await send(product); // the lane
      await send(issue, { method: 'POST', headers: { authorization: `Bearer ${buyer!.token}` } });
      await send('/api/v1/coupons');
      return reached;
    };
    const atInfo = appLoggingAt('info');
    expect((await run(atInfo)).slice(1)).toEqual([false, false, true]);
    const requests = (lines: typeof atInfo.lines) =>
      lines.filter((l) => l.msg === 'request').map((l) => `${l.level} ${l.method} ${l.path}`);
    expect(requests(atInfo.lines)).toEqual(['info GET /api/v1/coupons']);

    const atDebug = appLoggingAt('debug');
    // The cache is warm now: both reads are the lane's.
    expect(await run(atDebug)).toEqual([false, false, false, true]);
    expect(requests(atDebug.lines)).toEqual([
      `debug GET ${product}`,
      `debug GET ${product}`,
      `debug POST ${issue}`,
      'info GET /api/v1/coupons',
    ]);
    expect(atDebug.lines.every((l) => l.msg !== 'request' || typeof l.requestId === 'string')).toBe(true);
  });
});

describe('the lanes with CORS configured', () => {
  it('step aside: every answer carries the CORS middleware’s headers, with or without an Origin', async () => {
    const seller = await shop.createUser('SELLER');
    const [buyer] = await createBuyers(shop, 1);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 1 });
    const created = await shop.request('POST', '/api/v1/products', {
      token: seller.token,
      body: { name: 'Cors', price: 500, category: 'c', initialStock: 2 },
    });
    const app = createApp({
      ...shop.ctx,
      config: { ...shop.ctx.config, corsOrigins: ['https://shop.example'] },
    });
    const product = `/api/v1/products/${created.body.data.id}`;
    await app.request(product); // fills the cache
    const answers = [
      await app.request(product),
      await app.request(`/api/v1/coupons/${coupon.id}/issue`, {
        method: 'POST',
        headers: { authorization: `Bearer ${buyer!.token}` },
      }),
    ];
    for (const res of answers) {
      expect(res.headers.get('vary'), res.url).toContain('Origin');
      expect(res.headers.get('access-control-expose-headers'), res.url).toContain('X-Request-Id');
    }
  });
});
