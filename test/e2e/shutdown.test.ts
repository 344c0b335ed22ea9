import pg from 'pg';
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
    const buyers = await Promise.all(Array.from({ length: 90 }, () => shop.createUser('BUYER')));
    const orderQueue = shop.ctx.queues.orderShards[0]!;
    /**
     * Places one order per buyer, ten at a time: concurrent placements travel together in a PLACE_BATCH
     * job, so waves make several jobs — more than the worker holds at once, the rest waiting.
     */
    const placeAll = async (who: typeof buyers) => {
      for (let i = 0; i < who.length; i += 10) {
        // REPLY_TIMEOUT_MS=0: requests answer at once (202, or 201 if the worker was quicker still).
        const answers = await Promise.all(
          who.slice(i, i + 10).map((b) =>
            shop.request('POST', '/api/v1/orders', {
              token: b.token,
              body: { items: [{ productId, quantity: 1 }] },
            }),
          ),
        );
        expect(answers.map((a) => a.status).filter((s) => s !== 202 && s !== 201)).toEqual([]);
      }
    };
    /** The client commands a PLACE job carries (a PLACE_BATCH job several; the sweep's job, none). */
    const commandsOf = (jobs: Awaited<ReturnType<typeof orderQueue.getActive>>) =>
      jobs.flatMap((job) => {
        if (job.name === 'PLACE_BATCH')
          return (job.data.commands as { commandId: string }[]).map((c) => c.commandId);
        return job.name === 'PLACE' ? [job.data.commandId as string] : [];
      });

    // The product's stock row stays locked until the drain has begun and more work has arrived: every
    // placement the worker takes waits on it, so the jobs it holds at the signal are exactly those active
    // then, and none ends (freeing a slot for another) before the drain has begun.
    const lock = new pg.Client({ connectionString: shop.config.databaseUrl! });
    await lock.connect();
    let locked = true;
    const unlock = async () => {
      if (!locked) return;
      locked = false;
      await lock.query('commit');
    };
    try {
      await lock.query('begin');
      await lock.query('select 1 from inventory where product_id = $1 for update', [productId]);
      const worker = await spawnWorkerProcess(shop.config, {
        WORKERS: 'order',
        ORDER_WORKER_CONCURRENCY: '4',
      });
      await placeAll(buyers.slice(0, 80));
      await eventually(async () => commandsOf(await orderQueue.getActive()).length > 0, 10_000, 5);

      worker.process.kill('SIGTERM');
      await eventually(async () => worker.output().includes('draining'), 10_000, 5);
      // A job the worker was fetching as the signal came is its own too: the set settles first.
      await new Promise((r) => setTimeout(r, 300));
      const held = await orderQueue.getActive();
      const heldCommands = commandsOf(held);
      expect(heldCommands.length).toBeGreaterThan(0);
      const waitingAtSignal = commandsOf(await orderQueue.getWaiting());
      expect(waitingAtSignal.length).toBeGreaterThan(0);
      // Work that arrives while it drains (the process is still running: its jobs wait on the lock).
      await placeAll(buyers.slice(80));
      expect(worker.process.exitCode).toBeNull();
      await unlock();

      const exitCode = await worker.exited;
      expect(exitCode).toBe(0);
      expect(worker.output()).toContain('drained');
      // Finished, not left active: a completed command job is removed at once; its receipt is the record.
      for (const job of held) expect(await orderQueue.getJobState(job.id!)).toMatch(/^(completed|unknown)$/);
      // It carried out exactly the commands it held at the signal: none that was waiting then, and
      // none that came after.
      const receipts = await query<{ id: string; status: string }>(
        shop.ctx.orm.em.fork(),
        sql`select id, status from commands`,
      );
      expect(receipts.map((r) => r.id).sort()).toEqual([...heldCommands].sort());
      expect(receipts.every((r) => r.status === 'DONE')).toBe(true);
      expect(await orderQueue.getActiveCount()).toBe(0);
      const waiting = new Set(commandsOf(await orderQueue.getWaiting()));
      expect(waiting.size).toBe(90 - heldCommands.length);
      for (const commandId of waitingAtSignal) expect(waiting.has(commandId)).toBe(true);
      expect((await inventoryOf(shop, productId)).reserved).toBe(heldCommands.length);
    } finally {
      await unlock();
      await lock.end();
    }

    // What it did not take waits for the next worker, and nothing was lost.
    const next = await spawnWorkerProcess(shop.config, { WORKERS: 'order' });
    try {
      await eventually(async () => (await inventoryOf(shop, productId)).reserved === 90, 20_000);
    } finally {
      await next.kill('SIGTERM');
    }
  }, 60_000);
});
