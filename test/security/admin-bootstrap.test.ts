import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdmin } from '../../src/auth/auth.service';
import { ConfigError } from '../../src/config';
import type { AppContext } from '../../src/context';
import { User } from '../../src/db/schema/user.entity';
import { databaseUrl } from '../support/databases';
import { freeListeningPort } from '../support/ports';
import { createTestShop, TEST_REDIS_URL, type TestShop } from '../support/test-shop';

// Start-up creates the administrator named by ADMIN_EMAIL. Registration has no email verification, so
// anyone can register that address before the operator starts the shop: start-up must never promote
// such an account (the attacker's password would then log in as ADMIN), and stops loudly instead.
const ROOT = join(import.meta.dirname, '../..');
const SQUATTED = 'ops@x.test';
const OPERATOR_PASSWORD = 'operator-admin-password-7';
const ATTACKER_PASSWORD = 'attacker-password-7';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop({ ADMIN_EMAIL: SQUATTED, ADMIN_PASSWORD: OPERATOR_PASSWORD });
});
afterAll(() => shop?.close());

/** The shop's context, as a start-up with this ADMIN_EMAIL and ADMIN_PASSWORD would have it. */
const startingWith = (adminEmail: string, adminPassword = OPERATOR_PASSWORD): AppContext => ({
  ...shop.ctx,
  config: { ...shop.ctx.config, adminEmail, adminPassword },
});

const register = (email: string, password = ATTACKER_PASSWORD) =>
  shop.request('POST', '/api/v1/auth/register', { body: { email, password, name: 'Ops' } });
const login = (email: string, password: string) =>
  shop.request('POST', '/api/v1/auth/login', { body: { email, password } });
const row = (email: string) => shop.ctx.orm.em.fork().findOneOrFail(User, { email });

async function expectRefused(start: Promise<void>, email: string, role: string) {
  const error = await start.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).problems).toHaveLength(1);
  expect((error as ConfigError).problems[0]).toMatch(new RegExp(`^ADMIN_EMAIL: ${email} .*${role}`));
}

describe('the administrator created at start-up', () => {
  it('refuses to promote an address someone registered first, which stays a BUYER', async () => {
    // Any case: registration lowercases the address, as ADMIN_EMAIL is.
    expect((await register('Ops@X.test')).status).toBe(201);
    const before = await row(SQUATTED);

    await expectRefused(ensureAdmin(shop.ctx), SQUATTED, 'BUYER');

    const after = await row(SQUATTED);
    expect(after).toMatchObject({ role: 'BUYER', tokenVersion: before.tokenVersion });
    expect(after.passwordHash).toBe(before.passwordHash);
    // The attacker's password yields a BUYER token, which no admin route accepts.
    const attacker = await login(SQUATTED, ATTACKER_PASSWORD);
    expect(attacker.status).toBe(200);
    expect(attacker.body.data.user.role).toBe('BUYER');
    expect((await shop.ctx.tokens.verify(attacker.body.data.token))?.role).toBe('BUYER');
    expect(
      (await shop.request('GET', '/api/v1/admin/webhooks', { token: attacker.body.data.token })).status,
    ).toBe(403);
    // ADMIN_PASSWORD did not become the account's password either.
    expect((await login(SQUATTED, OPERATOR_PASSWORD)).status).toBe(401);
    // Refused on every start, not only the first.
    await expectRefused(ensureAdmin(shop.ctx), SQUATTED, 'BUYER');
  });

  it('refuses a SELLER account at ADMIN_EMAIL the same way', async () => {
    const seller = await shop.createUser('SELLER', { email: 'seller-ops@x.test' });
    await expectRefused(ensureAdmin(startingWith(seller.email)), seller.email, 'SELLER');
    expect((await row(seller.email)).role).toBe('SELLER');
  });

  it('refuses a registration that wins the race between the look-up and the insert', async () => {
    const email = 'race@x.test';
    const ctx = startingWith(email);
    // The address is looked up, then ADMIN_PASSWORD hashed, then inserted: register in between.
    const passwords = Object.create(ctx.passwords) as AppContext['passwords'];
    passwords.hash = async (password: string) => {
      expect((await register(email)).status).toBe(201);
      return shop.ctx.passwords.hash(password);
    };
    await expectRefused(ensureAdmin({ ...ctx, passwords }), email, 'BUYER');
    expect((await row(email)).role).toBe('BUYER');
    expect((await login(email, OPERATOR_PASSWORD)).status).toBe(401);
  });

  it('leaves an existing ADMIN at ADMIN_EMAIL as it is: role, token version and password', async () => {
    const admin = await shop.createUser('ADMIN', { email: 'root@x.test' });
    const before = await row(admin.email);

    await ensureAdmin(startingWith(admin.email));

    const after = await row(admin.email);
    expect(after).toMatchObject({ role: 'ADMIN', tokenVersion: before.tokenVersion, name: before.name });
    expect(after.passwordHash).toBe(before.passwordHash);
    expect((await shop.request('GET', '/api/v1/admin/webhooks', { token: admin.token })).status).toBe(200);
    expect((await login(admin.email, 'password123')).status).toBe(200);
  });

  it('creates the ADMIN with ADMIN_PASSWORD on a free address, once, even from processes starting together', async () => {
    const email = 'fresh-admin@x.test';
    await Promise.all(Array.from({ length: 4 }, () => ensureAdmin(startingWith(email))));
    expect(await shop.ctx.orm.em.fork().count(User, { email })).toBe(1);
    const res = await login(email, OPERATOR_PASSWORD);
    expect(res.status).toBe(200);
    expect(res.body.data.user.role).toBe('ADMIN');
    // And a later start keeps it.
    await ensureAdmin(startingWith(email));
  });

  it('makes a production `npm start` exit 78 naming ADMIN_EMAIL, without serving', async () => {
    const squatted = 'ops-prod@x.test';
    expect((await register(squatted)).status).toBe(201);
    const port = await freeListeningPort();
    const child = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        PORT: String(port),
        DATABASE_URL: databaseUrl(shop.databaseName),
        REDIS_URL: TEST_REDIS_URL,
        REDIS_PREFIX: shop.config.redisPrefix,
        JWT_SECRET: 'x'.repeat(40),
        ADMIN_EMAIL: squatted,
        ADMIN_PASSWORD: OPERATOR_PASSWORD,
        PASSWORD_HASH_MEMORY_KIB: '1024',
        LOG_LEVEL: 'info',
        WORKER_METRICS_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: should it start after all, the test stops npm, the shop and its workers.
      detached: true,
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    try {
      const outcome = await new Promise<number | null | 'listening'>((resolve) => {
        child.once('exit', resolve);
        child.stdout!.on('data', (d) => String(d).includes('shop is listening') && resolve('listening'));
      });
      expect(stderr).toContain(`ADMIN_EMAIL: ${squatted} already belongs to a BUYER account`);
      expect(outcome).toBe(78);
      expect((await row(squatted)).role).toBe('BUYER');
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 60_000);
});
