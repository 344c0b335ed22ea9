import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestShop, type TestShop } from '../support/test-shop';

// Issue 14 item 1: 200 parallel guesses got {200: 1, 401: 199} — the counter was read before and
// written after the password check, and a success deleted it. Now a slot is taken before the check.

const ACCOUNT_LIMIT = 10;
const ADDRESS_LIMIT = 30;
const PASSWORD = 'a sturdy passphrase';

let shop: TestShop;
let verifications = 0;

beforeAll(async () => {
  shop = await createTestShop({
    LOGIN_MAX_FAILURES: String(ACCOUNT_LIMIT),
    LOGIN_MAX_FAILURES_PER_ADDRESS: String(ADDRESS_LIMIT),
    LOGIN_WINDOW_S: '900',
    // Its accounts are all registered from one (in-process) address: more than the default allows.
    REGISTER_MAX_PER_ADDRESS: '100',
  });
  // Count the real verifications (the hasher still does the work).
  const verify = shop.ctx.passwords.verify.bind(shop.ctx.passwords);
  shop.ctx.passwords.verify = (hash, password) => {
    verifications++;
    return verify(hash, password);
  };
});
afterAll(() => shop?.close());

async function register(email: string) {
  const res = await shop.request('POST', '/api/v1/auth/register', {
    body: { email, password: PASSWORD, name: 'Target' },
  });
  expect(res.status).toBe(201);
}

/** A login as it arrives from `address` (the node-server binding's socket). */
async function loginFrom(address: string, email: string, password: string) {
  const res = await shop.app.request(
    '/api/v1/auth/login',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    },
    { incoming: { socket: { remoteAddress: address } } },
  );
  return { status: res.status, headers: res.headers, body: (await res.json()) as { error?: string } };
}

describe('login lockout', () => {
  it('200 parallel guesses: at most the limit of verifications, the right password among them refused', async () => {
    await register('parallel@example.com');
    verifications = 0;
    const guesses = Array.from({ length: 200 }, (_, i) => (i === 100 ? PASSWORD : `wrong guess ${i}`));
    const results = await Promise.all(
      guesses.map((p) => loginFrom('198.51.100.1', 'parallel@example.com', p)),
    );

    const byStatus: Record<number, number> = {};
    for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    expect(verifications, JSON.stringify(byStatus)).toBeLessThanOrEqual(ACCOUNT_LIMIT);
    expect(byStatus[200], JSON.stringify(byStatus)).toBeUndefined();
    expect(byStatus[429]).toBeGreaterThanOrEqual(200 - ACCOUNT_LIMIT);
    expect(results[100]!.status).toBe(429);

    // Locked now, for the right password too, with Retry-After.
    const again = await loginFrom('198.51.100.2', 'parallel@example.com', PASSWORD);
    expect(again.status).toBe(429);
    expect(again.body.error).toBe('RATE_LIMITED');
    const retryAfter = Number(again.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);
  });

  it('a success gives back only its own slot: it does not reopen the window', async () => {
    await register('reopen@example.com');
    for (let i = 0; i < ACCOUNT_LIMIT - 1; i++) {
      expect((await loginFrom('198.51.100.3', 'reopen@example.com', `wrong ${i}`)).status).toBe(401);
    }
    expect((await loginFrom('198.51.100.3', 'reopen@example.com', PASSWORD)).status).toBe(200);
    // The success did not wipe the nine failures: one more guess is the tenth, then it is locked.
    expect((await loginFrom('198.51.100.3', 'reopen@example.com', 'wrong again')).status).toBe(401);
    expect((await loginFrom('198.51.100.3', 'reopen@example.com', PASSWORD)).status).toBe(429);
  });

  it('limits attempts per client address across accounts (password spraying)', async () => {
    const emails = Array.from({ length: ADDRESS_LIMIT + 1 }, (_, i) => `spray${i}@example.com`);
    for (const email of emails) await register(email);
    for (const email of emails.slice(0, ADDRESS_LIMIT)) {
      expect((await loginFrom('203.0.113.7', email, 'Winter2026!')).status).toBe(401);
    }
    const last = emails[ADDRESS_LIMIT]!;
    const refused = await loginFrom('203.0.113.7', last, PASSWORD);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // The account itself is not locked: its owner, elsewhere, still signs in.
    expect((await loginFrom('192.0.2.44', last, PASSWORD)).status).toBe(200);
  });

  it('takes the client address from X-Forwarded-For only behind TRUST_PROXY_HOPS proxies', async () => {
    const { Hono } = await import('hono');
    const { clientAddress } = await import('../../src/http/client-address');
    const probe = (hops: number) =>
      new Hono()
        .get('/', (c) => c.text(clientAddress(c, hops)))
        .request(
          '/',
          { headers: { 'x-forwarded-for': '10.9.9.9, 203.0.113.9' } },
          { incoming: { socket: { remoteAddress: '192.0.2.1' } } },
        );
    // Without a trusted proxy the header is the client's to forge: the socket decides.
    expect(await (await probe(0)).text()).toBe('192.0.2.1');
    // One proxy appends the client's address: the rightmost entry; anything left of it may be forged.
    expect(await (await probe(1)).text()).toBe('203.0.113.9');
    expect(await (await probe(2)).text()).toBe('10.9.9.9');
  });

  it('counts Bull Board Basic logins against the same lockout', async () => {
    await register('basic@example.com');
    const basic = (password: string) =>
      shop.request('GET', '/admin/queues', {
        headers: {
          authorization: `Basic ${Buffer.from(`basic@example.com:${password}`).toString('base64')}`,
        },
      });
    for (let i = 0; i < ACCOUNT_LIMIT; i++) expect((await basic(`wrong ${i}`)).status).toBe(401);
    const locked = await loginFrom('192.0.2.45', 'basic@example.com', PASSWORD);
    expect(locked.status).toBe(429);
  });
});
