import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { problemsOf } from '../support/config-problems';

describe('configuration', () => {
  it('has working defaults for development (API.md "Configuration")', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      redisUrl: 'redis://127.0.0.1:6379',
      orderPaymentTimeoutMs: 900_000,
      orderAutoConfirmMs: 604_800_000,
      replyTimeoutMs: 5000,
      gatewayLatencyMs: 200,
      paymentMaxAttempts: 3,
      outboxMaxAttempts: 8,
      lowStockThreshold: 5,
      productCacheTtlS: 60,
      workers: 'all',
      timezone: 'Asia/Seoul',
      adminEmail: 'admin@shop.local',
    });
    expect(config.databaseUrl).toBeUndefined();
  });

  it('names every variable with a bad value', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      REPLY_TIMEOUT_MS: '-1',
      SHOP_TIMEZONE: 'Mars/Olympus',
      WORKERS: 'ALL!',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      ['PORT', 'REPLY_TIMEOUT_MS', 'SHOP_TIMEZONE', 'WORKERS'].sort(),
    );
  });

  it('refuses non-PostgreSQL and non-Redis URLs', () => {
    const problems = problemsOf({ DATABASE_URL: 'mysql://x@y/z', REDIS_URL: 'http://localhost' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_URL', 'REDIS_URL']);
  });

  it('in production requires secrets and refuses the development defaults', () => {
    const missing = problemsOf({ NODE_ENV: 'production' });
    for (const name of ['JWT_SECRET', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'DATABASE_URL']) {
      expect(missing.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    const defaults = problemsOf({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://shop@db/shop',
      ADMIN_EMAIL: 'ops@example.com',
      ADMIN_PASSWORD: 'admin-password',
      JWT_SECRET: 'dev-only-jwt-secret-change-me-0123456789',
    });
    expect(defaults.map((p) => p.split(':')[0]).sort()).toEqual(['ADMIN_PASSWORD', 'JWT_SECRET']);
    expect(
      problemsOf({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgresql://shop@db/shop',
        ADMIN_EMAIL: 'ops@example.com',
        ADMIN_PASSWORD: 'a-real-admin-password',
        JWT_SECRET: 'x'.repeat(40),
      }),
    ).toEqual([]);
  });
});
