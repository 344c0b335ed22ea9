import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placementSender } from '../../src/commands/placement-sender';
import { sweepQueuedCommands } from '../../src/commands/receipt-sweeper';
import { commandIdFor } from '../../src/commands/receipts';
import { query, sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { ORDER_PLACE_BATCH, type PlaceOrderCommand } from '../../src/messaging/messages';
import { findJob, mailboxFor } from '../../src/messaging/queues';
import { type RunningWorkers, startWorkers } from '../../workers';
import { createProduct } from '../support/catalog';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// PLACE commands an API process receives while its previous PLACE job is unanswered travel as ONE
// mailbox job (PLACE_BATCH); each member keeps its own command id, receipt and answer. No worker runs
// at first: each test starts the order mailbox when its jobs are in place.
let shop: TestShop;
let seller: TestUser;
let workers: RunningWorkers | undefined;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'none', REPLY_TIMEOUT_MS: '300', COMMAND_MAX_ATTEMPTS: '2' });
  seller = await shop.createUser('SELLER');
});
afterAll(async () => {
  await workers?.close();
  await shop?.close();
});

async function startOrderMailbox() {
  workers ??= await startWorkers(shop.ctx, 'order');
}

const placeCommand = (buyer: TestUser, productId: string, idempotencyKey: string | null = null) =>
  ({
    commandId: idempotencyKey ? commandIdFor(buyer.id, 'PLACE', idempotencyKey) : uuidv7(),
    userId: buyer.id,
    role: 'BUYER',
    idempotencyKey,
    requestHash: null,
    items: [{ productId, quantity: 1 }],
  }) satisfies PlaceOrderCommand;

async function receipts(ids: string[]) {
  return query<{ id: string; status: string; error: { error: string } | null }>(
    shop.ctx.orm.em.fork(),
    sql`select id, status, error from commands where id = any(${ids}::text[]) order by id`,
  );
}

async function ordersOf(userIds: string[]) {
  const [row] = await query<{ n: number }>(
    shop.ctx.orm.em.fork(),
    sql`select count(*)::int as n from orders where user_id = any(${userIds}::uuid[])`,
  );
  return row!.n;
}

const reservedOf = async (productId: string) =>
  (await shop.request('GET', `/api/v1/inventory/${productId}`, { token: seller.token })).body.data.reserved;

describe('placements sent together', () => {
  it('go as one PLACE_BATCH job after the first, and each ends with its own order and receipt', async () => {
    const productId = await createProduct(shop, seller, { stock: 50 });
    const buyers = await Promise.all(Array.from({ length: 6 }, () => shop.createUser('BUYER')));
    const commands = buyers.map((buyer) => placeCommand(buyer, productId));
    const sender = placementSender(shop.ctx);
    const jobIds = await Promise.all(commands.map((command) => sender.send(command)));

    // The first went at once as an ordinary PLACE job; the five that came while it was unanswered (no
    // worker: until PLACE_HOLD_MAX_MS), together.
    expect(jobIds[0]).toBe(commands[0]!.commandId);
    expect(new Set(jobIds.slice(1)).size).toBe(1);
    const batch = await findJob(shop.ctx.queues, 'order', jobIds[1]!);
    expect(batch?.name).toBe(ORDER_PLACE_BATCH);
    expect(batch?.data.commands.map((c: PlaceOrderCommand) => c.commandId)).toEqual(
      commands.slice(1).map((c) => c.commandId),
    );

    await startOrderMailbox();
    const ids = commands.map((c) => c.commandId);
    const done = await eventually(async () => {
      const rows = await receipts(ids);
      return rows.length === ids.length ? rows : undefined;
    });
    expect(done!.map((r) => r.status)).toEqual(ids.map(() => 'DONE'));
    expect(await ordersOf(buyers.map((b) => b.id))).toBe(6);
    expect(await reservedOf(productId)).toBe(6);
  });

  it('a keyed command that reaches the mailbox in two batch jobs is placed once', async () => {
    await startOrderMailbox();
    const productId = await createProduct(shop, seller, { stock: 50 });
    const [keyedBuyer, a, b] = await Promise.all([1, 2, 3].map(() => shop.createUser('BUYER')));
    const keyed = placeCommand(keyedBuyer!, productId, 'retried-order');
    const others = [placeCommand(a!, productId), placeCommand(b!, productId)];
    // As two API processes would send a client's retry: the same command id in two batch jobs (and
    // twice in the second), not deduplicated by BullMQ because the job ids differ.
    const add = (commands: PlaceOrderCommand[]) => {
      const jobId = `place-batch-${uuidv7()}`;
      return mailboxFor(shop.ctx.queues, 'order', {}, jobId).add(ORDER_PLACE_BATCH, { commands }, { jobId });
    };
    await Promise.all([add([keyed, others[0]!]), add([keyed, others[1]!, keyed])]);

    const ids = [keyed, ...others].map((c) => c.commandId);
    const done = await eventually(async () => {
      const rows = await receipts(ids);
      return rows.length === ids.length ? rows : undefined;
    });
    expect(done!.map((r) => r.status)).toEqual(['DONE', 'DONE', 'DONE']);
    expect(await ordersOf([keyedBuyer!.id])).toBe(1);
    expect(await ordersOf([a!.id, b!.id])).toBe(2);
    await eventually(async () => (await reservedOf(productId)) === 3);
  });

  it('a batch job whose data is refused ends every member FAILED with VALIDATION_ERROR', async () => {
    await startOrderMailbox();
    const productId = await createProduct(shop, seller, { stock: 5 });
    const [a, b] = await Promise.all([1, 2].map(() => shop.createUser('BUYER')));
    const valid = placeCommand(a!, productId);
    const invalid = { ...placeCommand(b!, productId), items: [{ productId, quantity: 0 }] };
    const jobId = `place-batch-${uuidv7()}`;
    await mailboxFor(shop.ctx.queues, 'order', {}, jobId).add(
      ORDER_PLACE_BATCH,
      { commands: [valid, invalid] },
      { jobId },
    );
    const ids = [valid.commandId, invalid.commandId];
    const ended = await eventually(async () => {
      const rows = await receipts(ids);
      return rows.length === 2 ? rows : undefined;
    });
    expect(ended!.map((r) => [r.status, r.error?.error])).toEqual([
      ['FAILED', 'VALIDATION_ERROR'],
      ['FAILED', 'VALIDATION_ERROR'],
    ]);
    expect(await ordersOf([a!.id, b!.id])).toBe(0);
  });
});

describe('a member of a batch job answered 202', () => {
  it('is looked for in its batch job by the sweeper, and put back alone when Redis lost that job', async () => {
    await workers?.close();
    workers = undefined;
    const productId = await createProduct(shop, seller, { stock: 10 });
    const buyers = await Promise.all([1, 2, 3].map(() => shop.createUser('BUYER')));
    const answers = await Promise.all(
      buyers.map((buyer) =>
        shop.request('POST', '/api/v1/orders', {
          token: buyer.token,
          body: { items: [{ productId, quantity: 1 }] },
        }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202]);
    const ids = answers.map((r) => r.body.data.id as string);
    const queued = await query<{ id: string; jobId: string | null }>(
      shop.ctx.orm.em.fork(),
      sql`select id, data->>'mailboxJobId' as "jobId" from queued_commands where id = any(${ids}::text[])`,
    );
    const batchJobIds = [...new Set(queued.flatMap((q) => (q.jobId ? [q.jobId] : [])))];
    expect(batchJobIds).toHaveLength(1);

    // While the batch job waits, the sweeper leaves its members alone.
    expect((await sweepQueuedCommands(shop.ctx, shop.ctx.log)).requeued).toBe(0);
    await (await findJob(shop.ctx.queues, 'order', batchJobIds[0]!))!.remove();
    const swept = await sweepQueuedCommands(shop.ctx, shop.ctx.log);
    expect(swept.requeued).toBe(queued.filter((q) => q.jobId).length);

    await startOrderMailbox();
    const done = await eventually(async () => {
      const rows = await receipts(ids);
      return rows.length === ids.length ? rows : undefined;
    });
    expect(done!.map((r) => r.status)).toEqual(['DONE', 'DONE', 'DONE']);
    expect(await ordersOf(buyers.map((b) => b.id))).toBe(3);
  });
});
