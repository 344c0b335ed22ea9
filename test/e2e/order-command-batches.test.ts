import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { orderCommandSender } from '../../src/commands/order-command-sender';
import { commandIdFor } from '../../src/commands/receipts';
import { sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import {
  type BatchedOrderCommand,
  type CommandBatchMember,
  ORDER_COMMAND_BATCH,
  type PlaceOrderCommand,
} from '../../src/messaging/messages';
import { findJob, mailboxFor } from '../../src/messaging/queues';
import { createRedis } from '../../src/messaging/redis';
import { type CommandReply, repliesChannel } from '../../src/messaging/replies';
import { runPlaceOrder } from '../../src/orders/order-actor';
import { type RunningWorkers, startWorkers } from '../../workers';
import { createProduct } from '../support/catalog';
import { buyerCommand } from '../support/orders';
import { ledgerOf, pay, rows, waitForOrder, withoutGatewaySafeguards } from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// Commands on existing orders (PAY, CANCEL, CONFIRM, REFUND) an API process receives while its
// previous job for the same order shard is unanswered travel as ONE mailbox job (COMMAND_BATCH); the
// order worker runs each member as the lone command it stands for. The hold limit is long, so only an
// answer lets the next job go. The gateway is lenient (its unique indexes dropped): a second capture
// would be recorded, not refused on the shop's behalf. The gateway's latency keeps a paid order in
// PENDING.paying for a while, so a CANCEL right after a PAY meets that state.
let shop: TestShop;
let seller: TestUser;
let workers: RunningWorkers | undefined;

beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'none',
    // One shard (also on a cluster run): every command here shares one hold.
    ORDER_SHARDS: '1',
    ORDER_COMMAND_JOBS_IN_FLIGHT: '1',
    ORDER_COMMAND_HOLD_MAX_MS: '60000',
    REPLY_TIMEOUT_MS: '30000',
    MOCK_GATEWAY_MODE: 'lenient',
    PAYMENT_GATEWAY_LATENCY_MS: '200',
  });
  await withoutGatewaySafeguards(shop);
  seller = await shop.createUser('SELLER');
});
afterAll(async () => {
  await workers?.close();
  await shop?.close();
});

async function startAllWorkers() {
  workers ??= await startWorkers(shop.ctx, 'all');
}

/** A PENDING order of one unit, placed by the order actor's own step (no worker needed). */
async function pendingOrder(buyer: TestUser, productId: string): Promise<string> {
  const command: PlaceOrderCommand = { ...buyerCommand(buyer), items: [{ productId, quantity: 1 }] };
  const delivery = { name: 'PLACE', attemptsMade: 0, stalledCounter: 0 };
  const answer = (await runPlaceOrder(shop.ctx, delivery, command, shop.ctx.log)) as { id: string };
  return answer.id;
}

const envelope = (buyer: TestUser) => ({ ...buyerCommand(buyer), replyTo: shop.ctx.replies.replyTo });
const payCommand = (buyer: TestUser, orderId: string): BatchedOrderCommand => ({
  name: 'PAY',
  data: { ...envelope(buyer), orderId, method: 'CARD', cardToken: 'tok_ok' },
});
const cancelCommand = (buyer: TestUser, orderId: string): BatchedOrderCommand => ({
  name: 'CANCEL',
  data: { ...envelope(buyer), orderId },
});

/** Starts waiting for each command's reply (before it is sent), in order. */
const repliesTo = (ids: string[]) => ids.map((id) => shop.ctx.replies.expect(id, 30_000).reply);

/** What each reply says: the error code of a refusal, else DONE. */
const verdicts = async (replies: Promise<CommandReply | undefined>[]) =>
  (await Promise.all(replies)).map((r) => (r?.status === 'FAILED' ? r.error?.error : r?.status));

async function addBatch(members: CommandBatchMember[], options: { removeOnComplete?: boolean } = {}) {
  const jobId = `command-batch-${uuidv7()}`;
  await mailboxFor(shop.ctx.queues, 'order', members[0]!.data, jobId).add(
    ORDER_COMMAND_BATCH,
    { commands: members },
    { jobId, attempts: 3, removeOnComplete: options.removeOnComplete ?? true },
  );
  return jobId;
}

/** Per order: its payments, and its gateway captures. */
async function moneyOf(orderIds: string[]) {
  return Promise.all(
    orderIds.map(async (orderId) => {
      const [row] = await rows<{ n: number }>(
        shop,
        sql`select count(*)::int as n from payments where order_id = ${orderId}`,
      );
      const captures = (await ledgerOf(shop, orderId)).filter((l) => l.kind === 'CAPTURE').length;
      return { payments: row!.n, captures };
    }),
  );
}

describe('commands on existing orders sent together', () => {
  it('a burst of PAYs from several buyers goes in fewer jobs than commands, each answered with its own outcome', async () => {
    const productId = await createProduct(shop, seller, { stock: 50 });
    const buyers = await Promise.all(Array.from({ length: 5 }, () => shop.createUser('BUYER')));
    const orderIds = await Promise.all(buyers.map((buyer) => pendingOrder(buyer, productId)));

    const sender = orderCommandSender(shop.ctx);
    const send = sender.send.bind(sender);
    const jobIds: string[] = [];
    const spy = vi.spyOn(sender, 'send').mockImplementation(async (command) => {
      const jobId = await send(command);
      jobIds.push(jobId);
      return jobId;
    });
    try {
      // PAY needs an Idempotency-Key: each is answered on the shared reply channel.
      const answers = Promise.all(
        buyers.map((buyer, i) =>
          pay(shop, buyer, { orderId: orderIds[i], method: 'CARD', cardToken: 'tok_ok' }),
        ),
      );
      // No worker yet: the first PAY's job waits unanswered in the mailbox, the other four wait here.
      await eventually(async () => (spy.mock.calls.length === 5 && jobIds.length === 1 ? true : undefined));
      await startAllWorkers();
      const responses = await answers;

      expect(jobIds).toHaveLength(5);
      expect(new Set(jobIds).size).toBe(2);
      expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
      expect(responses.map((r) => r.body.data.orderId)).toEqual(orderIds);
      expect(new Set(responses.map((r) => r.body.data.id)).size).toBe(5);
    } finally {
      spy.mockRestore();
    }
    for (const [i, orderId] of orderIds.entries())
      expect((await waitForOrder(shop, buyers[i]!, orderId)).status).toBe('PAID');
    expect(await moneyOf(orderIds)).toEqual(orderIds.map(() => ({ payments: 1, captures: 1 })));
  });

  it('a member refused (wrong state, not the buyer’s order, malformed) leaves the others to pay', async () => {
    await startAllWorkers();
    const productId = await createProduct(shop, seller, { stock: 50 });
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => shop.createUser('BUYER')));
    const [paysA, cancelledB, ofC, paysD] = await Promise.all(
      [a!, b!, c!, d!].map((buyer) => pendingOrder(buyer, productId)),
    );
    const cancelled = cancelCommand(b!, cancelledB!);
    const [cancelReply] = repliesTo([cancelled.data.commandId]);
    await mailboxFor(shop.ctx.queues, 'order', cancelled.data, cancelled.data.commandId).add(
      'CANCEL',
      cancelled.data,
      { jobId: cancelled.data.commandId },
    );
    expect((await cancelReply)?.status).toBe('DONE');

    const members: CommandBatchMember[] = [
      payCommand(a!, paysA!),
      payCommand(b!, cancelledB!),
      payCommand(a!, ofC!), // a's PAY for c's order
      { name: 'PAY', data: { ...envelope(d!), orderId: paysD, method: 'BITCOIN' } },
      payCommand(d!, paysD!),
    ];
    const replies = repliesTo(members.map((m) => String(m.data.commandId)));
    await addBatch(members);

    expect(await verdicts(replies)).toEqual([
      'DONE',
      'ORDER_NOT_PAYABLE',
      'ORDER_NOT_FOUND',
      'VALIDATION_ERROR',
      'DONE',
    ]);
    expect((await waitForOrder(shop, a!, paysA!)).status).toBe('PAID');
    expect((await waitForOrder(shop, d!, paysD!)).status).toBe('PAID');
    expect((await waitForOrder(shop, b!, cancelledB!)).status).toBe('CANCELLED');
    expect((await waitForOrder(shop, c!, ofC!)).status).toBe('PENDING');
    expect(await moneyOf([paysA!, cancelledB!, ofC!, paysD!])).toEqual([
      { payments: 1, captures: 1 },
      { payments: 0, captures: 0 },
      { payments: 0, captures: 0 },
      { payments: 1, captures: 1 },
    ]);
  });

  it('a batch job delivered again pays nobody twice and answers from the receipts', async () => {
    await startAllWorkers();
    const productId = await createProduct(shop, seller, { stock: 50 });
    const buyers = await Promise.all([1, 2, 3].map(() => shop.createUser('BUYER')));
    const orderIds = await Promise.all(buyers.map((buyer) => pendingOrder(buyer, productId)));
    const members = buyers.map((buyer, i) => payCommand(buyer, orderIds[i]!));
    const ids = members.map((m) => m.data.commandId);

    const first = repliesTo(ids);
    const jobId = await addBatch(members, { removeOnComplete: false });
    const firstAnswers = await Promise.all(first);
    expect(firstAnswers.map((r) => r?.status)).toEqual(['DONE', 'DONE', 'DONE']);
    const job = await eventually(async () => {
      const found = await findJob(shop.ctx.queues, 'order', jobId);
      return (await found?.getState()) === 'completed' ? found : undefined;
    });

    // BullMQ delivers the same job again (as after a lost acknowledgement).
    const again = repliesTo(ids);
    await job!.retry('completed');
    const againAnswers = await Promise.all(again);
    expect(againAnswers.map((r) => (r?.status === 'DONE' ? r.outcome : r))).toEqual(
      firstAnswers.map((r) => (r?.status === 'DONE' ? r.outcome : r)),
    );
    for (const [i, orderId] of orderIds.entries())
      expect((await waitForOrder(shop, buyers[i]!, orderId)).status).toBe('PAID');
    expect(await moneyOf(orderIds)).toEqual(orderIds.map(() => ({ payments: 1, captures: 1 })));
  });

  it('two commands for one order keep the order they were sent in', async () => {
    await startAllWorkers();
    const productId = await createProduct(shop, seller, { stock: 50 });
    const [lead, a, b] = await Promise.all([1, 2, 3].map(() => shop.createUser('BUYER')));
    const [leadOrder, orderA, orderB] = await Promise.all(
      [lead!, a!, b!].map((buyer) => pendingOrder(buyer, productId)),
    );
    const sender = orderCommandSender(shop.ctx);
    const commands = [
      payCommand(lead!, leadOrder!),
      cancelCommand(a!, orderA!),
      payCommand(a!, orderA!),
      payCommand(b!, orderB!),
      cancelCommand(b!, orderB!),
    ];
    const replies = repliesTo(commands.map((c) => c.data.commandId));
    const jobIds = await Promise.all(commands.map((command) => sender.send(command)));

    // The lead went alone; the four sent while it was unanswered went as one job, in order.
    expect(jobIds[0]).toBe(commands[0]!.data.commandId);
    expect(new Set(jobIds.slice(1)).size).toBe(1);
    expect(await verdicts(replies)).toEqual([
      'DONE',
      'DONE',
      'ORDER_NOT_PAYABLE',
      'DONE',
      'INVALID_ORDER_TRANSITION',
    ]);
    expect((await waitForOrder(shop, a!, orderA!)).status).toBe('CANCELLED');
    expect((await waitForOrder(shop, b!, orderB!)).status).toBe('PAID');
  });

  it('a keyed PAY that reaches the mailbox in two batch jobs pays once, and both runs answer DONE', async () => {
    await startAllWorkers();
    const productId = await createProduct(shop, seller, { stock: 50 });
    const [keyedBuyer, a, b] = await Promise.all([1, 2, 3].map(() => shop.createUser('BUYER')));
    const [keyedOrder, orderA, orderB] = await Promise.all(
      [keyedBuyer!, a!, b!].map((buyer) => pendingOrder(buyer, productId)),
    );
    const key = `pay-${uuidv7()}`;
    const keyed = payCommand(keyedBuyer!, keyedOrder!);
    Object.assign(keyed.data, { commandId: commandIdFor(keyedBuyer!.id, 'PAY', key), idempotencyKey: key });
    // Every answer to the keyed command, as a retry waiting in another API process would hear them.
    const heard: CommandReply[] = [];
    const watcher = createRedis(shop.ctx.config, 'subscriber', `${shop.ctx.config.redisPrefix}:watcher`);
    try {
      await watcher.subscribe(repliesChannel(shop.ctx.config.redisPrefix));
      watcher.on('message', (_channel: string, message: string) => {
        const parsed = JSON.parse(message) as CommandReply | CommandReply[];
        for (const r of Array.isArray(parsed) ? parsed : [parsed])
          if (r.commandId === keyed.data.commandId) heard.push(r);
      });
      // As two API processes would send a client's retry: the same command in two batch jobs, not
      // deduplicated by BullMQ because the job ids differ; the second once the first has committed.
      await addBatch([keyed, payCommand(a!, orderA!)]);
      await eventually(async () => (heard.length === 1 ? true : undefined));
      await addBatch([keyed, payCommand(b!, orderB!)]);
      await eventually(async () => (heard.length === 2 ? true : undefined));
    } finally {
      watcher.disconnect();
    }
    expect(heard.map((r) => r.status)).toEqual(['DONE', 'DONE']);
    for (const [buyer, orderId] of [
      [keyedBuyer!, keyedOrder!],
      [a!, orderA!],
      [b!, orderB!],
    ] as const)
      expect((await waitForOrder(shop, buyer, orderId)).status).toBe('PAID');
    expect(await moneyOf([keyedOrder!, orderA!, orderB!])).toEqual([
      { payments: 1, captures: 1 },
      { payments: 1, captures: 1 },
      { payments: 1, captures: 1 },
    ]);
  });
});
