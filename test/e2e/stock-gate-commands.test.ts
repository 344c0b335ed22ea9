import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openStockCounter,
  readTakes,
  settleStock,
  stockGateKeys,
  takeStock,
} from '../../src/catalog/stock-gate';
import { uuidv7 } from '../../src/ids';
import { redisCommandsDuring } from '../support/redis-monitor';
import { createTestShop, type TestShop } from '../support/test-shop';

// Issue 11: the Redis commands the stock gate spends per placement, counted with MONITOR (commands
// inside its Lua scripts included). The gate's counters need no product rows: it is given its own.
let shop: TestShop;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'none' });
  // The first call of a script in a process is EVALSHA, NOSCRIPT, EVAL: counted from the second on.
  const warm = await gatedProduct(1);
  const commandId = uuidv7();
  await takeStock(shop.ctx, commandId, [{ productId: warm, quantity: 1 }]);
  await settleStock(shop.ctx, [{ commandId, changes: [{ productId: warm, quantity: -1 }] }]);
});
afterAll(async () => {
  await shop?.close();
});

const counter = async (productId: string) =>
  Number(await shop.ctx.redis.hget(stockGateKeys(shop.ctx).available, productId));

async function gatedProduct(units: number): Promise<string> {
  const productId = uuidv7();
  await openStockCounter(shop.ctx, productId, units);
  return productId;
}

const asObject = (counts: Map<string, number>) => Object.fromEntries([...counts].sort());

describe('the stock gate, in Redis commands', () => {
  it('a take costs HMGET, HSETNX and one HINCRBY per product; its retry takes nothing', async () => {
    const [a, b] = [await gatedProduct(10), await gatedProduct(10)];
    const commandId = uuidv7();
    const lines = [
      { productId: a, quantity: 2 },
      { productId: b, quantity: 1 },
    ];
    let verdict: unknown;
    const take = await redisCommandsDuring(shop, async () => {
      verdict = await takeStock(shop.ctx, commandId, lines);
    });
    expect(verdict).toEqual({ kind: 'TAKEN' });
    expect(asObject(take)).toEqual({ evalsha: 1, hincrby: 2, hmget: 1, hsetnx: 1 });

    const retry = await redisCommandsDuring(shop, async () => {
      verdict = await takeStock(shop.ctx, commandId, lines);
    });
    expect(verdict).toEqual({ kind: 'TAKEN_BEFORE' });
    expect(asObject(retry)).toEqual({ evalsha: 1, hmget: 1, hsetnx: 1 });
    expect([await counter(a), await counter(b)]).toEqual([8, 9]);
  });

  it('a refusal costs HMGET and HEXISTS; a command that took before is still answered TAKEN_BEFORE', async () => {
    const product = await gatedProduct(1);
    const first = uuidv7();
    expect(await takeStock(shop.ctx, first, [{ productId: product, quantity: 1 }])).toEqual({
      kind: 'TAKEN',
    });
    let verdict: unknown;
    const refused = await redisCommandsDuring(shop, async () => {
      verdict = await takeStock(shop.ctx, uuidv7(), [{ productId: product, quantity: 1 }]);
    });
    expect(verdict).toEqual({
      kind: 'SOLD_OUT',
      short: [{ productId: product, requested: 1, available: 0 }],
    });
    expect(asObject(refused)).toEqual({ evalsha: 1, hexists: 1, hmget: 1 });
    // Sold out now, but this command's units were taken before: the same answer as the first time.
    expect(await takeStock(shop.ctx, first, [{ productId: product, quantity: 1 }])).toEqual({
      kind: 'TAKEN_BEFORE',
    });
    expect(await counter(product)).toBe(0);
  });

  it("a batch's takes are settled with one HMGET and one HDEL; a step without a take reaches the counter", async () => {
    const product = await gatedProduct(100);
    const commands = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    for (const commandId of commands)
      expect(await takeStock(shop.ctx, commandId, [{ productId: product, quantity: 1 }])).toEqual({
        kind: 'TAKEN',
      });
    const settle = await redisCommandsDuring(shop, async () => {
      await settleStock(shop.ctx, [
        ...commands.map((commandId) => ({ commandId, changes: [{ productId: product, quantity: -1 }] })),
        // A reservation no take paid for (the gate was rebuilt meanwhile): the counter pays it now.
        { commandId: uuidv7(), changes: [{ productId: product, quantity: -3 }] },
      ]);
    });
    expect(asObject(settle)).toEqual({ evalsha: 1, hdel: 1, hexists: 1, hincrby: 1, hmget: 1 });
    const ours = new Set(commands);
    expect((await readTakes(shop.ctx)).filter((t) => ours.has(t.commandId))).toEqual([]);
    expect(await counter(product)).toBe(100 - 4 - 3);
  });

  it('a lone take is settled with one HDEL', async () => {
    const product = await gatedProduct(5);
    const commandId = uuidv7();
    await takeStock(shop.ctx, commandId, [{ productId: product, quantity: 2 }]);
    const settle = await redisCommandsDuring(shop, () =>
      settleStock(shop.ctx, [{ commandId, changes: [{ productId: product, quantity: -2 }] }]),
    );
    expect(asObject(settle)).toEqual({ evalsha: 1, hdel: 1 });
    expect(await counter(product)).toBe(3);
  });
});
