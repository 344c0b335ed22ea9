import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTAGE_TEST_ENV, outageUnderLoad } from '../support/outage-under-load';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';
import { createTestShop, type TestShop } from '../support/test-shop';

describe('Redis shut down with NOSAVE under load and restarted empty', () => {
  let redis: PrivateRedis;
  let shop: TestShop;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    shop = await createTestShop({ ...OUTAGE_TEST_ENV, REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  it('loses no order, payment, event or command: every invariant holds once the buyers are done', async () => {
    // Orders whose payment was in flight when Redis died end, their capture or notice re-derived from
    // PostgreSQL (≈ 12 s with these settings; the 25 s deadline leaves room for a busy machine).
    const { load, violations, statuses } = await outageUnderLoad(shop, 'redis restart', async () => {
      await redis.shutdownNosave();
      await new Promise((r) => setTimeout(r, 2000));
      await redis.start();
    });
    expect(violations).toEqual([]);
    expect(new Set(load.orderIds).size).toBe(60);
    expect(statuses).toEqual([{ status: 'PAID', n: 60 }]);
    expect(load.statuses.get(500) ?? 0).toBe(0);
  }, 180_000);
});
