import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepQueuedCommands } from '../../src/commands/receipt-sweeper';
import { query, sql } from '../../src/db/sql';
import type { PlaceOrderCommand } from '../../src/messaging/messages';
import { orderShard } from '../../src/messaging/order-shards';
import { findJob } from '../../src/messaging/queues';
import { runPlaceOrder } from '../../src/orders/order-actor';
import { type RunningWorkers, startWorkers } from '../../workers';
import { createProduct } from '../support/catalog';
import { buyerCommand } from '../support/orders';
import { pay } from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// A PAY answered 202 while it travels in a COMMAND_BATCH job: the receipt sweeper finds the batch
// job in its orders' shard (not in the shard its own id would pick), leaves the members alone while
// it waits, and puts each back alone when Redis lost it. Four shards, no worker until the end.
let shop: TestShop;
let seller: TestUser;
let workers: RunningWorkers | undefined;

beforeAll(async () => {
  // No worker answers the first PAY, so it holds the next two back until ORDER_COMMAND_HOLD_MAX_MS:
  // a second, not the default 50 ms, so the three requests may arrive as spread out as a loaded CI
  // run makes them and the two later ones still leave together.
  shop = await createTestShop({
    WORKERS: 'none',
    ORDER_SHARDS: '4',
    REPLY_TIMEOUT_MS: '300',
    ORDER_COMMAND_HOLD_MAX_MS: '1000',
  });
  seller = await shop.createUser('SELLER');
});
afterAll(async () => {
  await workers?.close();
  await shop?.close();
});

/** PENDING orders of distinct buyers, all in one order shard. */
async function ordersInOneShard(count: number, productId: string) {
  const found: { buyer: TestUser; orderId: string }[] = [];
  let shard: number | undefined;
  while (found.length < count) {
    const buyer = await shop.createUser('BUYER');
    const command: PlaceOrderCommand = { ...buyerCommand(buyer), items: [{ productId, quantity: 1 }] };
    const delivery = { name: 'PLACE', attemptsMade: 0, stalledCounter: 0 };
    const { id } = (await runPlaceOrder(shop.ctx, delivery, command, shop.ctx.log)) as { id: string };
    shard ??= orderShard(4, { orderId: id });
    if (orderShard(4, { orderId: id }) === shard) found.push({ buyer, orderId: id });
  }
  return found;
}

describe('a member of a COMMAND_BATCH job answered 202', () => {
  it('is looked for in its batch job by the sweeper, and put back alone when Redis lost that job', async () => {
    const productId = await createProduct(shop, seller, { stock: 100 });
    const orders = await ordersInOneShard(3, productId);
    const answers = await Promise.all(
      orders.map(({ buyer, orderId }) => pay(shop, buyer, { orderId, method: 'CARD', cardToken: 'tok_ok' })),
    );
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202]);
    const ids = answers.map((r) => r.body.data.id as string);
    const queued = await query<{ id: string; jobId: string | null }>(
      shop.ctx.orm.em.fork(),
      sql`select id, data->>'mailboxJobId' as "jobId" from queued_commands where id = any(${ids}::text[])`,
    );
    expect(queued).toHaveLength(3);
    const batchJobIds = [...new Set(queued.flatMap((q) => (q.jobId ? [q.jobId] : [])))];
    expect(batchJobIds).toHaveLength(1);

    // While the batch job waits, the sweeper leaves its members alone.
    expect((await sweepQueuedCommands(shop.ctx, shop.ctx.log)).requeued).toBe(0);
    await (await findJob(shop.ctx.queues, 'order', batchJobIds[0]!))!.remove();
    const swept = await sweepQueuedCommands(shop.ctx, shop.ctx.log);
    expect(swept.requeued).toBe(2);

    workers = await startWorkers(shop.ctx, 'order');
    const done = await eventually(async () => {
      const rows = await query<{ status: string }>(
        shop.ctx.orm.em.fork(),
        sql`select status from commands where id = any(${ids}::text[])`,
      );
      return rows.length === 3 ? rows : undefined;
    });
    expect(done!.map((r) => r.status)).toEqual(['DONE', 'DONE', 'DONE']);
    const [payments] = await query<{ n: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as n from payments where order_id = any(${orders.map((o) => o.orderId)}::uuid[])`,
    );
    expect(payments!.n).toBe(3);
  });
});
