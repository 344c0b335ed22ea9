import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlacementSender } from '../../src/commands/placement-sender';
import { query, sql } from '../../src/db/sql';
import { MAX_PLACE_BATCH, ORDER_PLACE_BATCH, type PlaceOrderCommand } from '../../src/messaging/messages';
import { findJob } from '../../src/messaging/queues';
import { type RunningWorkers, startWorkers } from '../../workers';
import { createProduct } from '../support/catalog';
import { buyerCommand } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// The API side of the group commit: while this process's PLACE job is unanswered, new placements
// wait and then go together as one job, which the order worker commits in one transaction. The hold
// limit is long here, so only an answer (or a full batch) lets the next job go. No worker runs until
// a test starts the order mailbox.
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
let workers: RunningWorkers | undefined;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'none', PLACE_JOBS_IN_FLIGHT: '1', PLACE_HOLD_MAX_MS: '60000' });
  [seller, buyer] = await Promise.all([shop.createUser('SELLER'), shop.createUser('BUYER')]);
});
afterAll(async () => {
  await workers?.close();
  await shop?.close();
});

const placeCommand = (productId: string): PlaceOrderCommand => ({
  ...buyerCommand(buyer),
  items: [{ productId, quantity: 1 }],
});

/** Sends each command and records which have reached the mailbox (their send resolved). */
function sendAll(sender: PlacementSender, commands: PlaceOrderCommand[]) {
  const sent = new Map<string, string>();
  const all = Promise.all(
    commands.map((c) =>
      sender.send(c).then((jobId) => {
        sent.set(c.commandId, jobId);
        return jobId;
      }),
    ),
  );
  return { sent, all };
}

const queuedJobs = async () => {
  const counts = await Promise.all(shop.ctx.queues.orderShards.map((q) => q.getJobCounts('wait')));
  return counts.reduce((sum, c) => sum + (c.wait ?? 0), 0);
};

describe('placements while a PLACE job is unanswered', () => {
  it('a full batch does not wait', async () => {
    const productId = await createProduct(shop, seller, { stock: 100 });
    const sender = new PlacementSender(shop.ctx);
    const first = await sender.send(placeCommand(productId));
    const full = Array.from({ length: MAX_PLACE_BATCH }, () => placeCommand(productId));
    const { all } = sendAll(sender, full);
    // Resolves although the first job is never answered (no worker, a 60 s hold limit).
    const jobIds = await all;
    expect(new Set(jobIds).size).toBe(1);
    expect(jobIds[0]).not.toBe(first);
    const batch = await findJob(shop.ctx.queues, 'order', jobIds[0]!);
    expect(batch?.data.commands).toHaveLength(MAX_PLACE_BATCH);
  });

  it('wait for its answer, then go as one job committed in one transaction', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const sender = new PlacementSender(shop.ctx);
    const lead = placeCommand(productId);
    const leadJobId = await sender.send(lead);
    const followers = Array.from({ length: 5 }, () => placeCommand(productId));
    const before = await queuedJobs();
    const { sent, all } = sendAll(sender, followers);

    // The lead's job is in the mailbox and unanswered: nothing more has been added.
    expect(await findJob(shop.ctx.queues, 'order', leadJobId)).toBeDefined();
    expect(await queuedJobs()).toBe(before);
    expect(sent.size).toBe(0);

    workers = await startWorkers(shop.ctx, 'order');
    const jobIds = await all;
    expect(new Set(jobIds).size).toBe(1);
    const batch = await findJob(shop.ctx.queues, 'order', jobIds[0]!);
    if (batch) expect(batch.name).toBe(ORDER_PLACE_BATCH);

    const ids = followers.map((c) => c.commandId);
    const placed = await eventually(async () => {
      const rows = await query<{ xmin: string }>(
        shop.ctx.orm.em.fork(),
        sql`select o.xmin::text as xmin from commands c join orders o on o.id = c.resource_id
            where c.id = any(${ids}::text[]) and c.status = 'DONE'`,
      );
      return rows.length === ids.length ? rows : undefined;
    });
    // One transaction wrote all five orders (rows written by one transaction share its xmin).
    expect(new Set(placed!.map((r) => r.xmin)).size).toBe(1);
  });
});
