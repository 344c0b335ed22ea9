import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { startBuyers } from '../support/buyers';
import { createProduct } from '../support/catalog';
import { FAST_RECOVERY } from '../support/fault-env';
import { settle } from '../support/invariants';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually, spawnWorkerProcess, type WorkerProcess } from '../support/worker-process';

describe('a worker process SIGKILLed while it holds jobs, under load', () => {
  let shop: TestShop;
  const workers: WorkerProcess[] = [];
  // The production lock and stalled-check intervals (README): what this test is about.
  const { WORKER_LOCK_MS: _lock, WORKER_STALLED_INTERVAL_MS: _stalled, ...fast } = FAST_RECOVERY;
  beforeAll(async () => {
    // This process serves HTTP only: the spawned processes are the only ones that take jobs.
    shop = await createTestShop({ ...fast, WORKERS: 'none' });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await shop?.close();
  });

  it('has its jobs run again by another worker: every invariant holds once the buyers are done', async () => {
    // Slow captures: the doomed worker is certainly in the middle of some when it dies.
    const env = { ...fast, PAYMENT_GATEWAY_LATENCY_MS: '1500' };
    const doomed = await spawnWorkerProcess(shop.config, env);
    workers.push(doomed);
    const seller = await shop.createUser('SELLER');
    const products = await Promise.all(
      Array.from({ length: 4 }, () => createProduct(shop, seller, { stock: 1000 })),
    );
    const buyers = await Promise.all(Array.from({ length: 16 }, () => shop.createUser('BUYER')));
    const load = startBuyers(shop, buyers, products, { ordersEach: 2 });
    const em = () => shop.ctx.orm.em.fork();

    // Proof that it holds jobs: active captures, and no other process takes payment jobs.
    const held = (await eventually(
      async () => {
        const active = await shop.ctx.queues.payment.getActive();
        return active.length >= 3 ? active : undefined;
      },
      30_000,
      20,
    ))!;
    await doomed.kill('SIGKILL');
    const killedAt = Date.now();
    const stillActive = await Promise.all(held.map((job) => job.getState()));
    expect(stillActive.filter((s) => s === 'active').length).toBeGreaterThan(0);

    const successor = await spawnWorkerProcess(shop.config, fast);
    workers.push(successor);
    // Redelivered once their locks lapse (WORKER_LOCK_MS + WORKER_STALLED_INTERVAL_MS, 7.5 s by default):
    // the deadline leaves room for a busy machine, not for a 30 s lock.
    await eventually(
      async () => {
        const states = await Promise.all(held.map((job) => shop.ctx.queues.payment.getJobState(job.id!)));
        return states.every((s) => s === 'completed' || s === 'unknown');
      },
      25_000,
      100,
    );
    const redeliveredAfterMs = Date.now() - killedAt;
    await load.done;
    const { violations, inFlightEndedAfterMs } = await settle(em, load.commandIds, 60_000);
    console.info(
      `worker kill: ${load.orderIds.length} orders, answers ${JSON.stringify([...load.statuses])}, ` +
        `slowest request ${load.slowestRequestMs} ms, ` +
        `the dead worker's jobs completed ${redeliveredAfterMs} ms after the kill, ` +
        `payments in flight ended ${inFlightEndedAfterMs} ms after the buyers finished`,
    );
    expect(violations).toEqual([]);
    const statuses = await query<{ status: string; n: number }>(
      em(),
      sql`select status, count(*)::int as n from orders group by status`,
    );
    expect(statuses).toEqual([{ status: 'PAID', n: 32 }]);
  }, 180_000);
});
