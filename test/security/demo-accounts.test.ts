import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { User } from '../../src/db/schema/user.entity';
import { DEMO_BUYER, DEMO_SELLER, seedDemoCatalogIfEmpty } from '../../src/db/seed/demo-catalog';
import { type RunningShop, startShop } from '../../src/server';
import { problemsOf } from '../support/config-problems';
import { createTestDatabase, dropTestDatabase } from '../support/databases';
import { TEST_REDIS_URL, testEnv } from '../support/test-shop';

// The demo catalog brings a seller and a buyer whose passwords are in the README and the source
// (seller@shop.local / seller-password, …). SEED_DEMO defaulted to true everywhere, so a production
// start seeded them: in production the demo is now off by default and SEED_DEMO=true stops start-up.
const ROOT = join(import.meta.dirname, '../..');
const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgresql://shop@db/shop',
  ADMIN_EMAIL: 'ops@example.com',
  ADMIN_PASSWORD: 'a-real-admin-password',
  JWT_SECRET: 'x'.repeat(40),
};

describe('SEED_DEMO', () => {
  it('is refused in production, naming the variable', () => {
    for (const value of ['true', '1']) {
      expect(problemsOf({ ...PRODUCTION, SEED_DEMO: value })).toEqual([
        expect.stringMatching(/^SEED_DEMO: .*production.*public passwords/),
      ]);
    }
  });

  it('is off by default in production, and may be said so', () => {
    expect(loadConfig(PRODUCTION).seedDemo).toBe(false);
    expect(loadConfig({ ...PRODUCTION, SEED_DEMO: 'false' }).seedDemo).toBe(false);
    expect(loadConfig({ ...PRODUCTION, SEED_DEMO: '0' }).seedDemo).toBe(false);
  });

  it('stays on by default outside production (README: `npm start` loads the demo catalog)', () => {
    expect(loadConfig({}).seedDemo).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).seedDemo).toBe(true);
    expect(loadConfig({ SEED_DEMO: 'false' }).seedDemo).toBe(false);
  });

  it("is off in docker-compose.yml's production environment unless asked for, and then refused", () => {
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
    // What compose makes of `${VAR:-default}` and `${VAR:?message}` with a .env holding only the secrets.
    const resolve = (env: Record<string, string>, given: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(env).map(([name, value]) => [
          name,
          String(value).replace(
            /\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}/g,
            (_, v, fallback) => given[v] ?? fallback ?? '',
          ),
        ]),
      );
    const secrets = { JWT_SECRET: 'x'.repeat(40), ADMIN_PASSWORD: 'a-real-admin-password' };
    for (const service of ['api', 'worker', 'cluster-api', 'cluster-worker']) {
      const env = compose.services[service].environment;
      expect(env.NODE_ENV).toBe('production');
      expect(loadConfig(resolve(env, secrets)).seedDemo).toBe(false);
      expect(() => loadConfig(resolve(env, { ...secrets, SEED_DEMO: 'true' }))).toThrow(/SEED_DEMO/);
    }
  });
});

describe('a production start', () => {
  let databaseName: string;
  let env: Record<string, string>;
  let shop: RunningShop | undefined;
  beforeAll(async () => {
    databaseName = await createTestDatabase(inject('templateDatabase'));
    env = testEnv(databaseName, {
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(40),
      ADMIN_EMAIL: 'ops@example.com',
      ADMIN_PASSWORD: 'a-real-admin-password',
    });
    delete env.SEED_DEMO; // the default is what is tested
  });
  afterAll(async () => {
    await shop?.stop();
    if (databaseName) await dropTestDatabase(databaseName);
    const redis = new Redis(TEST_REDIS_URL);
    const keys = await redis.keys(`${env.REDIS_PREFIX}:*`);
    if (keys.length > 0) await redis.unlink(...keys);
    redis.disconnect();
  });

  it('creates the administrator and seeds nothing of the demo: no products, no demo accounts', async () => {
    shop = await startShop(loadConfig(env));
    const em = shop.ctx.orm.em.fork();
    expect(await em.count(User, { email: { $in: [DEMO_SELLER.email, DEMO_BUYER.email] } })).toBe(0);
    const [products] = await em.execute<{ count: number }[]>('select count(*)::int as count from products');
    expect(products!.count).toBe(0);
    expect(await em.findOne(User, { email: 'ops@example.com' })).toMatchObject({ role: 'ADMIN' });
    const login = await fetch(`http://127.0.0.1:${shop.port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: DEMO_SELLER.email, password: DEMO_SELLER.password }),
    });
    expect(login.status).toBe(401);
  });

  it('never seeds the demo catalog, whoever calls the seed', async () => {
    await expect(seedDemoCatalogIfEmpty(shop!.ctx)).rejects.toThrow(/never seeded in production/);
    expect(await shop!.ctx.orm.em.fork().count(User, { email: DEMO_SELLER.email })).toBe(0);
  });

  it('refuses `npm run seed` with exit 78 before touching the database', async () => {
    const child = spawn('npm', ['run', 'seed'], {
      cwd: ROOT,
      env: { ...process.env, ...env, DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stderr).toMatch(/NODE_ENV: .*refused in production/);
    expect(code).toBe(78);
  }, 60_000);
});
