import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { createProduct, inventoryOf } from '../support/catalog';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually, spawnWorkerProcess } from '../support/worker-process';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'none', REPLY_TIMEOUT_MS: '0' });
});
afterAll(() => shop?.close());

describe('graceful shutdown (SIGTERM)', () => {
  it('a draining worker finishes the jobs it holds, takes no new ones, and exits 0', async () => {
    const seller = await shop.createUser('SELLER');
    const productId = await createProduct(shop, seller, { stock: 1000 });
    const buyers = await Promise.all(Array.from({ length: 80 }, () => shop.createUser('BUYER')));
    const worker = await spawnWorkerProcess(shop.config, { WORKERS: 'order', ORDER_WORKER_CONCURRENCY: '4' });
    // REPLY_TIMEOUT_MS=0: requests answer at once (202, or 201 if the worker was quicker still).
    const answers = await Promise.all(
      buyers.map((b) =>
        shop.request('POST', '/api/v1/orders', {
          token: b.token,
          body: { items: [{ productId, quantity: 1 }] },
        }),
      ),
    );
    expect(answers.every((a) => a.status === 202 || a.status === 201)).toBe(true);
    const held = await eventually(
      async () => {
        const active = await shop.ctx.queues.orderShards[0]!.getActive();
        return active.length > 0 ? active : undefined;
      },
      10_000,
      5,
    );
    // A PLACE job carries one command, a PLACE_BATCH job several (the sweep's job, none).
    const heldCommands = held!.flatMap((job) => {
      if (job.name === 'PLACE_BATCH')
        return (job.data.commands as { commandId: string }[]).map((c) => c.commandId);
      return job.name === 'PLACE' ? [job.data.commandId as string] : [];
    });

    const exitCode = await worker.kill('SIGTERM');
    expect(exitCode).toBe(0);
    expect(worker.output()).toContain('drained');
    // Finished, not left active: a completed command job is removed at once; its receipt is the record.
    for (const job of held!)
      expect(await shop.ctx.queues.orderShards[0]!.getJobState(job.id!)).toMatch(/^(completed|unknown)$/);
    const [receipts] = await query<{ done: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as done from commands where status = 'DONE' and id = any(${heldCommands}::text[])`,
    );
    expect(receipts!.done).toBe(heldCommands.length);
    expect(await shop.ctx.queues.orderShards[0]!.getActiveCount()).toBe(0);

    // What it did not take waits for the next worker, and nothing was lost.
    const next = await spawnWorkerProcess(shop.config, { WORKERS: 'order' });
    try {
      await eventually(async () => (await inventoryOf(shop, productId)).reserved === 80, 20_000);
    } finally {
      await next.kill('SIGTERM');
    }
  }, 60_000);
});
