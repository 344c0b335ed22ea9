import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Issue 14 item 2: a text/plain POST from https://evil.example with the admin's (browser-cached) Basic
// credentials added a job to the events queue through Bull Board, and a partner received a signed
// ORDER_PAID with forged data. Bull Board is now read-only by default and refuses cross-site writes.

const ADD_EVENT = '/admin/queues/api/queues/events/add';
const forged = JSON.stringify({ name: 'ORDER_PAID', data: { orderId: 'forged', amount: -1 } });

async function eventJobs(shop: TestShop) {
  const counts = await shop.ctx.queues.events.getJobCounts();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function adminBasic(shop: TestShop) {
  const email = `ops-${crypto.randomUUID()}@example.com`;
  const res = await shop.request('POST', '/api/v1/auth/register', {
    body: { email, password: 'a sturdy passphrase', name: 'Ops' },
  });
  await shop.ctx.orm.em
    .fork()
    .getConnection()
    .execute(`update users set role = 'ADMIN' where id = ?`, [res.body.data.id]);
  return `Basic ${Buffer.from(`${email}:a sturdy passphrase`).toString('base64')}`;
}

describe('Bull Board with BULL_BOARD_READ_ONLY=false', () => {
  let shop: TestShop;
  let basic: string;
  beforeAll(async () => {
    shop = await createTestShop({ BULL_BOARD_READ_ONLY: 'false' });
    basic = await adminBasic(shop);
  });
  afterAll(() => shop?.close());

  it('refuses the probe: text/plain from another origin with Basic credentials → 403, no job', async () => {
    const before = await eventJobs(shop);
    const res = await shop.request('POST', ADD_EVENT, {
      body: forged,
      headers: { authorization: basic, 'content-type': 'text/plain', origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('FORBIDDEN');
    expect(await eventJobs(shop)).toBe(before);
  });

  it('refuses Sec-Fetch-Site: cross-site without Origin, and non-JSON bodies from the same origin', async () => {
    const before = await eventJobs(shop);
    const crossSite = await shop.request('POST', ADD_EVENT, {
      body: forged,
      headers: { authorization: basic, 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    const sameSite = await shop.request('POST', ADD_EVENT, {
      body: forged,
      headers: { authorization: basic, 'sec-fetch-site': 'same-site', origin: 'https://shop.example' },
    });
    expect(sameSite.status).toBe(403);
    const textPlain = await shop.request('POST', ADD_EVENT, {
      body: forged,
      headers: { authorization: basic, 'content-type': 'text/plain', 'sec-fetch-site': 'same-origin' },
    });
    expect(textPlain.status).toBe(400);
    const form = await shop.request('POST', ADD_EVENT, {
      body: 'name=ORDER_PAID',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(400);
    expect(await eventJobs(shop)).toBe(before);
  });

  it('lets the board itself (same origin, JSON) add a job', async () => {
    const before = await eventJobs(shop);
    const res = await shop.request('POST', ADD_EVENT, {
      body: forged,
      headers: { authorization: basic, origin: 'http://localhost', 'sec-fetch-site': 'same-origin' },
    });
    expect(res.status).toBe(200);
    // Behind a TLS-terminating proxy the page's origin is https while Node sees http: same host.
    const proxied = await shop.request('POST', ADD_EVENT, {
      body: forged,
      headers: { authorization: basic, origin: 'https://localhost' },
    });
    expect(proxied.status).toBe(200);
    expect(await eventJobs(shop)).toBe(before + 2);
    // A sandboxed frame or a file:// page sends Origin: null.
    const opaque = await shop.request('POST', ADD_EVENT, {
      body: forged,
      headers: { authorization: basic, origin: 'null' },
    });
    expect(opaque.status).toBe(403);
  });
});

describe('Bull Board by default', () => {
  let shop: TestShop;
  let basic: string;
  beforeAll(async () => {
    shop = await createTestShop();
    basic = await adminBasic(shop);
  });
  afterAll(() => shop?.close());

  it('is read-only: even a same-origin JSON add, retry or pause is refused, nothing changes', async () => {
    const before = await eventJobs(shop);
    const headers = { authorization: basic, origin: 'http://localhost' };
    const add = await shop.request('POST', ADD_EVENT, { body: forged, headers });
    expect(add.status).toBe(405);
    const pause = await shop.request('PUT', '/admin/queues/api/queues/events/pause', { headers });
    expect(pause.status).toBe(405);
    expect(await shop.ctx.queues.events.isPaused()).toBe(false);
    expect(await eventJobs(shop)).toBe(before);
    // Reading still works.
    const list = await shop.request('GET', '/admin/queues/api/queues', { headers: { authorization: basic } });
    expect(list.status).toBe(200);
    expect(list.body.queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);
  });

  it('refuses cross-site writes to the admin API (Origin not listed, text/plain)', async () => {
    const admin: TestUser = await shop.createUser('ADMIN');
    const target = await shop.createUser('BUYER');
    const path = `/api/v1/admin/users/${target.id}/role`;
    const evil = await shop.request('PATCH', path, {
      token: admin.token,
      body: { role: 'SELLER' },
      headers: { origin: 'https://evil.example' },
    });
    expect([evil.status, evil.body.error]).toEqual([403, 'FORBIDDEN']);
    const retry = await shop.request('POST', `/api/v1/admin/outbox/${crypto.randomUUID()}/retry`, {
      token: admin.token,
      body: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(retry.status).toBe(400);
    const me = await shop.request('GET', '/api/v1/auth/me', { token: target.token });
    expect(me.body.data.role).toBe('BUYER');
    // Same origin (or no browser headers at all) goes through.
    const ok = await shop.request('PATCH', path, {
      token: admin.token,
      body: { role: 'SELLER' },
      headers: { origin: 'http://localhost' },
    });
    expect(ok.status).toBe(200);
  });
});
