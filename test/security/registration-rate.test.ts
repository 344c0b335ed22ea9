import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app';
import { type AppContext, createContext } from '../../src/context';
import { query, sql } from '../../src/db/sql';
import { createTestShop, type TestShop } from '../support/test-shop';

// Security review (Low): POST /auth/register had no rate limit (20 accounts from one client in 0.8 s,
// each an argon2 hash): fake accounts could drain per-user first-come coupons and burn CPU. Now
// REGISTER_MAX_PER_ADDRESS per client address per REGISTER_WINDOW_S, counted in Redis (shared by every
// API process), 429 RATE_LIMITED with Retry-After beyond. This file runs with the real defaults.

let shop: TestShop;
/** A second API process: its own context (PostgreSQL pool, Redis connections) on the same shop. */
let otherCtx: AppContext;
let otherApp: App;

beforeAll(async () => {
  shop = await createTestShop();
  otherCtx = await createContext(shop.config, shop.config.databaseUrl!, shop.ctx.log);
  otherApp = createApp(otherCtx);
});
afterAll(async () => {
  await otherCtx?.close();
  await shop?.close();
});

const PASSWORD = 'a sturdy passphrase';

/** A registration as it arrives from `address` (the node-server binding's socket). */
async function registerFrom(
  app: App,
  address: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await app.request(
    '/api/v1/auth/register',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    },
    { incoming: { socket: { remoteAddress: address } } },
  );
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

const fresh = (name: string) => ({
  email: `${name}-${crypto.randomUUID()}@example.com`,
  password: PASSWORD,
  name,
});

async function usersNamed(name: string): Promise<number> {
  const [row] = await query<{ n: number }>(
    shop.ctx.orm.em.fork(),
    sql`select count(*)::int as n from users where name = ${name}`,
  );
  return row!.n;
}

describe('registration rate per client address', () => {
  it('runs with the documented defaults: 10 per address per 600 s', () => {
    expect(shop.config.registerMaxPerAddress).toBe(10);
    expect(shop.config.registerWindowS).toBe(600);
  });

  it('admits 10 of 30 parallel registrations from one address over two API processes, 429 for the rest', async () => {
    const address = '198.51.100.20';
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        // A forged X-Forwarded-For changes nothing without TRUST_PROXY_HOPS.
        registerFrom(i % 2 ? otherApp : shop.app, address, fresh('burst'), {
          'x-forwarded-for': `203.0.113.${i}`,
        }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expect(await usersNamed('burst')).toBe(10);

    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.body).toMatchObject({ error: 'RATE_LIMITED', message: expect.any(String) });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);

    // Still refused one by one, in Korean when asked; another address is not affected.
    const again = await registerFrom(shop.app, address, fresh('late'), { 'accept-language': 'ko' });
    expect(again.status).toBe(429);
    expect(again.body.message).toMatch(/가입/);
    expect((await registerFrom(shop.app, '198.51.100.21', fresh('elsewhere'))).status).toBe(201);
    expect(await usersNamed('late')).toBe(0);
  });

  it('counts only requests that pass validation', async () => {
    const address = '198.51.100.30';
    for (let i = 0; i < 12; i++) {
      const invalid = await registerFrom(shop.app, address, { ...fresh('invalid'), password: 'short' });
      expect(invalid.status).toBe(400);
    }
    for (let i = 0; i < 10; i++)
      expect((await registerFrom(shop.app, address, fresh('valid'))).status).toBe(201);
    expect((await registerFrom(shop.app, address, fresh('valid'))).status).toBe(429);
  });

  it('documents 429 on the route', async () => {
    const doc = (await shop.request('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths['/api/v1/auth/register'].post.responses)).toContain('429');
  });
});
