import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../../workers/runtime';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

describe('failed jobs', () => {
  let shop: TestShop;
  let failing: RunningWorker | undefined;
  beforeAll(async () => {
    shop = await createTestShop({ WORKERS: 'none', FAILED_JOBS_KEEP_COUNT: '3' });
  });
  afterAll(async () => {
    await failing?.close();
    await shop?.close();
  });

  it('are kept per queue up to FAILED_JOBS_KEEP_COUNT, whoever added them with the queue defaults', async () => {
    let failed = 0;
    failing = await startWorker(shop.ctx, 'inventory', {
      kind: 'queue',
      queue: 'inventory',
      process: async () => {
        failed++;
        throw new UnrecoverableError('fails for good');
      },
    });
    for (let i = 0; i < 10; i++) await shop.ctx.queues.inventory.add('DOOMED', { i });
    await eventually(async () => failed === 10);
    // Trimmed as each one fails (the latest failures stay, whichever order the workers took them in).
    await eventually(async () => (await shop.ctx.queues.inventory.getFailedCount()) === 3);
    const kept = await shop.ctx.queues.inventory.getFailed();
    expect(new Set(kept.map((job) => job.data.i)).size).toBe(3);
  });
});
