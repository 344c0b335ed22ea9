import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../src/messaging/queues';
import {
  createFixtureProduct,
  payFixtureOrder,
  placeFixtureOrder,
  stepFixtureOrder,
} from '../support/order-fixtures';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let admin: TestUser;
let buyer: TestUser;
let paidOrderId: string;
beforeAll(async () => {
  shop = await createTestShop({ LOGIN_MAX_FAILURES: '3' });
  admin = await shop.createUser('ADMIN');
  buyer = await shop.createUser('BUYER');
  const product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
  paidOrderId = await placeFixtureOrder(shop, buyer, product);
  await payFixtureOrder(shop, buyer, paidOrderId);
  await placeFixtureOrder(shop, buyer, product);
  await placeFixtureOrder(shop, buyer, product);
  await stepFixtureOrder(shop, await placeFixtureOrder(shop, buyer, product), { type: 'CANCEL' });
});
afterAll(() => shop?.close());

// Every fixture user's password (test-shop's createUser).
const PASSWORD = 'password123';
const basic = (email: string, password: string) =>
  `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;
const get = async (path: string, authorization?: string): Promise<Response> =>
  shop.app.request(path, authorization ? { headers: { authorization } } : {});
const json = async (res: Response): Promise<any> => res.json();

/** Runs `fn` with the working directory elsewhere: assets must not depend on it. */
async function fromAnotherDirectory<T>(fn: () => Promise<T>): Promise<T> {
  const cwd = process.cwd();
  process.chdir('/tmp');
  try {
    return await fn();
  } finally {
    process.chdir(cwd);
  }
}

describe('Bull Board at /admin/queues is for ADMINs only', () => {
  it('challenges anonymous requests with 401 and WWW-Authenticate: Basic', async () => {
    for (const path of [
      '/admin/queues',
      '/admin/queues/api/queues',
      '/admin/queues/static/favicon-32x32.png',
    ]) {
      const res = await get(path);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"/);
      expect((await json(res)).error).toBe('UNAUTHORIZED');
    }
  });

  it("refuses a wrong password, a buyer's Basic login and a buyer's token with a Basic challenge", async () => {
    expect((await get('/admin/queues', basic(admin.email, 'not-the-password'))).status).toBe(401);
    expect((await get('/admin/queues', basic(buyer.email, PASSWORD))).status).toBe(401);
    expect((await get('/admin/queues', 'Basic !!!not-base64')).status).toBe(401);
    // API.md: "401 with WWW-Authenticate: Basic otherwise" — a buyer's token included.
    const withToken = await get('/admin/queues', `Bearer ${buyer.token}`);
    expect(withToken.status).toBe(401);
    expect(withToken.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"/);
    expect((await json(withToken)).error).toBe('UNAUTHORIZED');
  });

  it("opens with the admin's email and password, or an admin token", async () => {
    const page = await get('/admin/queues', basic(admin.email, PASSWORD));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toMatch(/<base href="\/admin\/queues\/?"/);
    expect((await get('/admin/queues', `Bearer ${admin.token}`)).status).toBe(200);
  });

  it('shows every queue', async () => {
    const res = await get('/admin/queues/api/queues', `Bearer ${admin.token}`);
    expect(res.status).toBe(200);
    const names = ((await json(res)).queues as { name: string }[]).map((q) => q.name);
    expect(names.sort()).toEqual([...QUEUE_NAMES].sort());
  });

  it('serves its static files from the package whatever the working directory', async () => {
    const html = await (await get('/admin/queues', `Bearer ${admin.token}`)).text();
    const asset = /src="(static\/js\/main\.[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const res = await fromAnotherDirectory(() => get(`/admin/queues/${asset}`, `Bearer ${admin.token}`));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
  });

  it('verifies a Basic login once, then trusts it briefly (argon2 is not run per asset)', async () => {
    const fresh = await shop.createUser('ADMIN');
    const verify = shop.ctx.passwords.verify;
    let calls = 0;
    shop.ctx.passwords.verify = (hash, password) => {
      calls++;
      return verify(hash, password);
    };
    try {
      for (let i = 0; i < 5; i++)
        expect((await get('/admin/queues', basic(fresh.email, PASSWORD))).status).toBe(200);
    } finally {
      shop.ctx.passwords.verify = verify;
    }
    expect(calls).toBe(1);
  });

  it('locks the account like the login endpoint after repeated wrong passwords (429)', async () => {
    const target = await shop.createUser('ADMIN');
    for (let i = 0; i < 3; i++)
      expect((await get('/admin/queues', basic(target.email, 'wrong-wrong'))).status).toBe(401);
    const locked = await get('/admin/queues', basic(target.email, PASSWORD));
    expect(locked.status).toBe(429);
    expect((await json(locked)).error).toBe('RATE_LIMITED');
  });
});

describe('the order-machine page at /machines/order', () => {
  const adminAuth = () => `Bearer ${admin.token}`;

  it("without an order is the developers' diagram, public like /docs, with no live data", async () => {
    const res = await get('/machines/order');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<pre id="diagram" class="mermaid">stateDiagram-v2');
    expect(html).not.toContain('orders now');
    expect(html).not.toMatch(/<td class="count">\d/);
  });

  it('with ?orderId= it is for ADMINs (it shows live orders): 401 with a Basic challenge otherwise', async () => {
    const res = await get(`/machines/order?orderId=${paidOrderId}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
    const buyerToken = await get(`/machines/order?orderId=${paidOrderId}`, `Bearer ${buyer.token}`);
    expect(buyerToken.status).toBe(401);
    expect(buyerToken.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await get(`/machines/order?orderId=${paidOrderId}`, basic(admin.email, PASSWORD))).status).toBe(
      200,
    );
  });

  it('draws the machine from its definition and lists states, events, guards and delays', async () => {
    const res = await get('/machines/order');
    const html = await res.text();
    expect(html).toContain('<pre id="diagram" class="mermaid">stateDiagram-v2');
    expect(html).toContain('<script src="/machines/assets/mermaid.min.js"></script>');
    expect(html).not.toMatch(/<script src="https?:/);
    for (const text of [
      'PENDING.awaitingPayment',
      'isWithinPaymentWindow',
      'paymentWindow',
      'autoConfirmDelay',
      'REFUND_COMPLETED',
    ])
      expect(html).toContain(text);
  });

  it('shows ADMINs how many orders sit in each state now', async () => {
    const html = await (await get(`/machines/order?orderId=${paidOrderId}`, adminAuth())).text();
    const count = (state: string) =>
      Number(
        new RegExp(`data-state="${state.replace('.', '\\.')}">[\\s\\S]*?<td class="count">(\\d+)</td>`).exec(
          html,
        )?.[1],
      );
    expect(count('PENDING.awaitingPayment')).toBe(2);
    expect(count('PAID.active')).toBe(1);
    expect(count('CANCELLED')).toBe(1);
    expect(count('CONFIRMED')).toBe(0);
  });

  it("with ?orderId= highlights the order's current state and the path it took", async () => {
    const html = await (await get(`/machines/order?orderId=${paidOrderId}`, adminAuth())).text();
    expect(html).toContain('data-current-state="PAID.active"');
    expect(html).toContain('class PAID__active current');
    expect(html).toContain('class PENDING__awaitingPayment visited');
    expect(html).toContain('class PENDING__paying visited');
    expect(html).toContain('PENDING.awaitingPayment → PENDING.paying → PAID.active');
    expect(html).toMatch(/<tr class="current" data-state="PAID\.active">/);
  });

  it('answers 404 for an unknown order and 400 for a malformed id', async () => {
    const unknown = await get(`/machines/order?orderId=${crypto.randomUUID()}`, adminAuth());
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error).toBe('ORDER_NOT_FOUND');
    const bad = await get('/machines/order?orderId=42', adminAuth());
    expect(bad.status).toBe(400);
    expect((await json(bad)).details).toContainEqual(expect.objectContaining({ field: 'query.orderId' }));
  });

  it('serves mermaid from the installed package whatever the working directory', async () => {
    const res = await fromAnotherDirectory(() => get('/machines/assets/mermaid.min.js'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
  });
});
