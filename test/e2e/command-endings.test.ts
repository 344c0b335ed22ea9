import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEUES, sweepQueuedCommands } from '../../src/commands/receipt-sweeper';
import { commandIdFor } from '../../src/commands/receipts';
import { query, run, sql } from '../../src/db/sql';
import { bullPrefix } from '../../src/messaging/queues';
import { createRedis } from '../../src/messaging/redis';
import { type RunningWorkers, startWorkers } from '../../workers';
import { createProduct } from '../support/catalog';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// API.md: a command's receipt ends DONE or FAILED. No worker runs at first: each test starts the
// mailboxes it needs, so a job can be made to fail or be lost before anyone consumes it.
let shop: TestShop;
let seller: TestUser;
let admin: TestUser;
const running: RunningWorkers[] = [];

beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'none',
    COMMAND_MAX_ATTEMPTS: '2',
    REPLY_TIMEOUT_MS: '300',
    COMMAND_SWEEP_INTERVAL_MS: '200',
  });
  [seller, admin] = await Promise.all([shop.createUser('SELLER'), shop.createUser('ADMIN')]);
});
afterAll(async () => {
  for (const workers of running) await workers.close();
  await shop?.close();
});

async function startMailboxes(selection: string) {
  running.push(await startWorkers(shop.ctx, selection));
}

const receiptOf = (user: TestUser, id: string) =>
  shop.request('GET', `/api/v1/commands/${id}`, { token: user.token });

describe('a command whose job fails for good', () => {
  it('ends FAILED with an error code, shown by GET /commands/{id} and answered at once on replay', async () => {
    const buyer = await shop.createUser('BUYER');
    const productId = await createProduct(shop, seller, { stock: 5 });
    // A real, persistent failure in the database for this buyer's orders only: every attempt fails.
    await run(
      shop.ctx.orm.em.fork(),
      sql.raw(`create or replace function refuse_test_orders() returns trigger language plpgsql as $$
               begin if new.user_id = '${buyer.id}' then raise exception 'disk on fire'; end if; return new; end $$;
               create trigger refuse_test_orders before insert on orders
               for each row execute function refuse_test_orders();`),
    );
    await startMailboxes('order');
    const place = () =>
      shop.request('POST', '/api/v1/orders', {
        token: buyer.token,
        headers: { 'idempotency-key': 'doomed-order' },
        body: { items: [{ productId, quantity: 1 }] },
      });
    const first = await place();
    // Answered with the failure if it came within REPLY_TIMEOUT_MS, else 202 and the receipt.
    expect([202, 500]).toContain(first.status);
    const commandId = commandIdFor(buyer.id, 'PLACE', 'doomed-order');

    const receipt = await eventually(async () => {
      const res = await receiptOf(buyer, commandId);
      return res.body.data?.status === 'FAILED' ? res.body.data : undefined;
    });
    expect(receipt).toMatchObject({ id: commandId, type: 'PLACE', status: 'FAILED' });
    expect(receipt.error.error).toBe('INTERNAL');
    expect(receipt.error.message).not.toContain('disk on fire');

    const replay = await place();
    expect([replay.status, replay.body.error]).toEqual([500, 'INTERNAL']);
    const [orders] = await query<{ n: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as n from orders where user_id = ${buyer.id}`,
    );
    expect(orders?.n).toBe(0);
  });
});

describe('a command whose job Redis lost', () => {
  const adjust = (productId: string) =>
    shop.request('POST', `/api/v1/inventory/${productId}/adjust`, {
      token: admin.token,
      body: { delta: 3, reason: 'recount' },
    });

  async function acceptedAndLost(productId: string): Promise<string> {
    const accepted = await adjust(productId);
    expect(accepted.status).toBe(202);
    const commandId = accepted.body.data.id as string;
    // Nothing consumes the inventory mailbox yet: the job waits there, and is lost.
    expect(await shop.ctx.queues.inventory.getJob(commandId)).toBeDefined();
    await shop.ctx.queues.inventory.remove(commandId);
    expect(await shop.ctx.queues.inventory.getJob(commandId)).toBeUndefined();
    expect((await receiptOf(admin, commandId)).body.data.status).toBe('QUEUED');
    return commandId;
  }

  it('ends FAILED once it was put back MAX_REQUEUES times and lost every time', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const commandId = await acceptedAndLost(productId);
    for (let requeue = 1; requeue <= MAX_REQUEUES; requeue++) {
      expect((await sweepQueuedCommands(shop.ctx, shop.ctx.log)).requeued).toBeGreaterThanOrEqual(1);
      expect(await shop.ctx.queues.inventory.getJob(commandId)).toBeDefined();
      await shop.ctx.queues.inventory.remove(commandId);
    }
    expect((await sweepQueuedCommands(shop.ctx, shop.ctx.log)).failed).toBeGreaterThanOrEqual(1);
    const receipt = (await receiptOf(admin, commandId)).body.data;
    expect(receipt).toMatchObject({ id: commandId, type: 'ADJUST', status: 'FAILED' });
    expect(receipt.error.error).toBe('INTERNAL');
  });

  it('ends FAILED when its job failed for good without a receipt (nobody could record it then)', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const accepted = await adjust(productId);
    expect(accepted.status).toBe(202);
    const commandId = accepted.body.data.id as string;
    // A bare BullMQ worker, without the shop's failure recorder: the job fails for good and no receipt
    // is written, as when the database was down at that moment.
    const connection = createRedis(shop.config.redisUrl, 'blocking', 'test-bare-worker');
    const bare = new Worker(
      'inventory',
      async () => {
        throw new UnrecoverableError('nobody records this');
      },
      { connection, prefix: bullPrefix(shop.config.redisPrefix, 'inventory', false) },
    );
    try {
      await eventually(async () => {
        const job = await shop.ctx.queues.inventory.getJob(commandId);
        return (await job?.getState()) === 'failed';
      });
    } finally {
      await bare.close();
      connection.disconnect();
    }
    expect((await receiptOf(admin, commandId)).body.data.status).toBe('QUEUED');
    expect((await sweepQueuedCommands(shop.ctx, shop.ctx.log)).failed).toBeGreaterThanOrEqual(1);
    expect((await receiptOf(admin, commandId)).body.data).toMatchObject({
      status: 'FAILED',
      error: { error: 'INTERNAL' },
    });
  });

  it('is put back in its mailbox by the running sweeper and carried out', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const commandId = await acceptedAndLost(productId);
    await startMailboxes('commands,inventory');
    const receipt = await eventually(async () => {
      const res = await receiptOf(admin, commandId);
      return res.body.data?.status === 'DONE' ? res.body.data : undefined;
    });
    expect(receipt).toMatchObject({
      id: commandId,
      type: 'ADJUST',
      resource: `/api/v1/inventory/${productId}`,
    });
    expect((await shop.request('GET', `/api/v1/inventory/${productId}`)).body.data.stock).toBe(13);
  });
});
