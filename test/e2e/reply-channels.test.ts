import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandIdFor } from '../../src/commands/receipts';
import { createRedis, type Redis } from '../../src/messaging/redis';
import { type CommandReply, ReplyListener, repliesChannel } from '../../src/messaging/replies';
import { type RunningWorkers, startWorkers } from '../../workers';
import { createProduct } from '../support/catalog';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// Each API process hears the answers of the commands it sent on its own channel; a keyed command's
// answer goes to the shared channel, since a retry of it may be waiting in another API process.
let shop: TestShop;
let seller: TestUser;
let workers: RunningWorkers;
let watcher: Redis;
let otherProcess: ReplyListener;
const heard: { channel: string; replies: CommandReply[] }[] = [];

beforeAll(async () => {
  shop = await createTestShop();
  seller = await shop.createUser('SELLER');
  workers = await startWorkers(shop.ctx, 'order');
  const prefix = shop.ctx.config.redisPrefix;
  watcher = createRedis(shop.ctx.config, 'subscriber', `${prefix}:test-watcher`);
  await watcher.psubscribe(`${prefix}:replies*`);
  watcher.on('pmessage', (_pattern: string, channel: string, message: string) => {
    const parsed = JSON.parse(message) as CommandReply | CommandReply[];
    heard.push({ channel, replies: Array.isArray(parsed) ? parsed : [parsed] });
  });
  // A second API process of the same shop (its own listener and channel).
  otherProcess = new ReplyListener(
    createRedis(shop.ctx.config, 'subscriber', `${prefix}:other-api`),
    prefix,
    shop.ctx.log,
  );
  await otherProcess.whenSubscribed();
});
afterAll(async () => {
  otherProcess?.close();
  watcher?.disconnect();
  await workers?.close();
  await shop?.close();
});

const channelsOf = (orderId: string) =>
  heard
    .filter((h) => h.replies.some((r) => r.status === 'DONE' && r.outcome.id === orderId))
    .map((h) => h.channel);

describe('reply channels', () => {
  it("an order's answer goes to the channel of the API process that sent it, not to the others", async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const buyer = await shop.createUser('BUYER');
    const placed = await shop.request('POST', '/api/v1/orders', {
      token: buyer.token,
      body: { items: [{ productId, quantity: 1 }] },
    });
    expect(placed.status).toBe(201);
    const orderId = placed.body.data.id as string;
    const prefix = shop.ctx.config.redisPrefix;
    expect(shop.ctx.replies.replyTo).not.toBe(otherProcess.replyTo);
    expect(
      await eventually(async () => (channelsOf(orderId).length > 0 ? channelsOf(orderId) : undefined)),
    ).toEqual([repliesChannel(prefix, shop.ctx.replies.replyTo)]);
  });

  it("a keyed command's answer goes to the shared channel, which every API process hears", async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const buyer = await shop.createUser('BUYER');
    const key = 'reply-channel-key';
    const commandId = commandIdFor(buyer.id, 'PLACE', key);
    const inOtherProcess = otherProcess.expect(commandId, 10_000);
    const placed = await shop.request('POST', '/api/v1/orders', {
      token: buyer.token,
      headers: { 'Idempotency-Key': key },
      body: { items: [{ productId, quantity: 1 }] },
    });
    expect(placed.status).toBe(201);
    const reply = await inOtherProcess.reply;
    expect(reply?.status).toBe('DONE');
    expect(channelsOf(placed.body.data.id as string)).toEqual([repliesChannel(shop.ctx.config.redisPrefix)]);
  });
});
