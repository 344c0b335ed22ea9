import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCartLines, removeCartLines } from '../../src/cart/cart-lines';
import { Inventory } from '../../src/db/schema/inventory.entity';
import { Product, type ProductStatus } from '../../src/db/schema/product.entity';
import { query, run, sql } from '../../src/db/sql';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let seller: TestUser;
beforeAll(async () => {
  shop = await createTestShop();
  seller = await shop.createUser('SELLER');
});
afterAll(() => shop?.close());

let productCounter = 0;
async function createProduct(
  options: { price?: number; stock?: number; reserved?: number; status?: ProductStatus } = {},
) {
  const em = shop.ctx.orm.em.fork();
  const product = em.create(Product, {
    sellerId: seller.id,
    name: `Product ${++productCounter}`,
    price: options.price ?? 10_000,
    category: 'test',
    status: options.status ?? 'ON_SALE',
  });
  em.create(Inventory, {
    productId: product.id,
    stock: options.stock ?? 100,
    reserved: options.reserved ?? 0,
  });
  await em.flush();
  return product.id;
}

const cart = (user: TestUser) => shop.request('GET', '/api/v1/cart', { token: user.token });
const add = (user: TestUser | undefined, body: unknown) =>
  shop.request('POST', '/api/v1/cart/items', { token: user?.token, body });
const patch = (user: TestUser | undefined, productId: string, body: unknown) =>
  shop.request('PATCH', `/api/v1/cart/items/${productId}`, { token: user?.token, body });
const removeLine = (user: TestUser | undefined, productId: string) =>
  shop.request('DELETE', `/api/v1/cart/items/${productId}`, { token: user?.token });

async function storedLines(userId: string) {
  return query<{ productId: string; quantity: number }>(
    shop.ctx.orm.em.fork(),
    sql`select product_id as "productId", quantity from cart_items where user_id = ${userId} order by created_at`,
  );
}

describe('a cart shows its lines at current prices with totals', () => {
  it('starts empty', async () => {
    const user = await shop.createUser('BUYER');
    const res = await cart(user);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ items: [], subtotal: 0 });
  });

  it('adds a line (201) and shows name, unit price, quantity, line total and availability', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct({ price: 12_500, stock: 40, reserved: 15 });
    const res = await add(user, { productId, quantity: 3 });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      items: [
        {
          productId,
          name: expect.stringMatching(/^Product \d+$/),
          unitPrice: 12_500,
          quantity: 3,
          lineTotal: 37_500,
          available: 25,
          status: 'ON_SALE',
        },
      ],
      subtotal: 37_500,
    });
    expect((await cart(user)).body.data).toEqual(res.body.data);
  });

  it('sums line totals into the subtotal and lists lines in the order they were added', async () => {
    const user = await shop.createUser('BUYER');
    const [a, b, c] = [
      await createProduct({ price: 1_000 }),
      await createProduct({ price: 2_345 }),
      await createProduct({ price: 99_990 }),
    ];
    await add(user, { productId: c, quantity: 1 });
    await add(user, { productId: a, quantity: 7 });
    await add(user, { productId: b, quantity: 3 });
    // Merging into the first line does not move it.
    const res = await add(user, { productId: c, quantity: 2 });
    expect(res.body.data.items.map((i: any) => [i.productId, i.quantity, i.lineTotal])).toEqual([
      [c, 3, 299_970],
      [a, 7, 7_000],
      [b, 3, 7_035],
    ]);
    expect(res.body.data.subtotal).toBe(299_970 + 7_000 + 7_035);
  });

  it('shows the product’s present name, price and availability, not those of when it was added', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct({ price: 5_000, stock: 10 });
    await add(user, { productId, quantity: 2 });
    const em = shop.ctx.orm.em.fork();
    await run(em, sql`update products set price = 7000, name = 'Renamed' where id = ${productId}`);
    await run(em, sql`update inventory set reserved = 4 where product_id = ${productId}`);
    const res = await cart(user);
    expect(res.body.data.items[0]).toMatchObject({
      name: 'Renamed',
      unitPrice: 7_000,
      lineTotal: 14_000,
      available: 6,
    });
    expect(res.body.data.subtotal).toBe(14_000);
  });

  it('keeps showing a line whose product went off sale, with its status', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    await add(user, { productId, quantity: 1 });
    await run(shop.ctx.orm.em.fork(), sql`update products set status = 'SOLD_OUT' where id = ${productId}`);
    expect((await cart(user)).body.data.items[0]).toMatchObject({ productId, status: 'SOLD_OUT' });
  });
});

describe('adding merges into the product’s line, which never exceeds 999', () => {
  it('adds to an existing line', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    await add(user, { productId, quantity: 2 });
    const res = await add(user, { productId, quantity: 5 });
    expect(res.status).toBe(201);
    expect(res.body.data.items).toHaveLength(1);
    expect(res.body.data.items[0].quantity).toBe(7);
  });

  it('accepts a line of exactly 999 and refuses to merge past it with 400 CART_ITEM_INVALID', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    expect((await add(user, { productId, quantity: 998 })).status).toBe(201);
    expect((await add(user, { productId, quantity: 1 })).status).toBe(201);
    const over = await add(user, { productId, quantity: 1 });
    expect(over.status).toBe(400);
    expect(over.body.error).toBe('CART_ITEM_INVALID');
    expect(over.body.details).toContainEqual(
      expect.objectContaining({ field: 'body.quantity', inCart: 999 }),
    );
    expect(await storedLines(user.id)).toEqual([{ productId, quantity: 999 }]);
  });

  it('refuses quantities outside 1 … 999 in one request with 400 VALIDATION_ERROR', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    for (const quantity of [0, -1, 1000, 2.5, '3', null]) {
      const res = await add(user, { productId, quantity });
      expect(res.status, JSON.stringify(quantity)).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
      expect(res.body.details).toContainEqual(expect.objectContaining({ field: 'body.quantity' }));
    }
    expect(await storedLines(user.id)).toEqual([]);
  });

  it('never loses an add nor passes 999 when 10 adds of 150 race', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => add(user, { productId, quantity: 150 })),
    );
    const created = answers.filter((a) => a.status === 201).length;
    const refused = answers.filter((a) => a.status === 400);
    expect(created + refused.length).toBe(10);
    expect(refused.every((a) => a.body.error === 'CART_ITEM_INVALID')).toBe(true);
    const [line] = await storedLines(user.id);
    expect(line!.quantity).toBeLessThanOrEqual(999);
    expect(line!.quantity).toBe(150 * created);
    expect(created).toBe(6);
  });

  it('answers 404 PRODUCT_NOT_FOUND for an unknown product', async () => {
    const user = await shop.createUser('BUYER');
    const res = await add(user, { productId: crypto.randomUUID(), quantity: 1 });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('PRODUCT_NOT_FOUND');
    expect(await storedLines(user.id)).toEqual([]);
  });

  it('answers 409 PRODUCT_NOT_AVAILABLE for a product that is not ON_SALE, also when merging', async () => {
    const user = await shop.createUser('BUYER');
    for (const status of ['SOLD_OUT', 'DISCONTINUED'] as const) {
      const res = await add(user, { productId: await createProduct({ status }), quantity: 1 });
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('PRODUCT_NOT_AVAILABLE');
    }
    expect(await storedLines(user.id)).toEqual([]);

    const productId = await createProduct();
    await add(user, { productId, quantity: 2 });
    await run(shop.ctx.orm.em.fork(), sql`update products set status = 'SOLD_OUT' where id = ${productId}`);
    expect((await add(user, { productId, quantity: 1 })).status).toBe(409);
    expect(await storedLines(user.id)).toEqual([{ productId, quantity: 2 }]);
  });
});

describe('PATCH sets a line’s quantity; DELETE removes a line or the whole cart', () => {
  it('sets the quantity of a line', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct({ price: 300 });
    await add(user, { productId, quantity: 5 });
    const res = await patch(user, productId, { quantity: 999 });
    expect(res.status).toBe(200);
    expect(res.body.data.items[0]).toMatchObject({ quantity: 999, lineTotal: 299_700 });
    expect((await patch(user, productId, { quantity: 1 })).body.data.subtotal).toBe(300);
  });

  it('refuses 0 (use DELETE), negative, over 999 and non-integers with 400, keeping the line', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    await add(user, { productId, quantity: 5 });
    for (const quantity of [0, -3, 1000, 1.1, '7', null, undefined]) {
      const res = await patch(user, productId, { quantity });
      expect(res.status, JSON.stringify(quantity)).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
    }
    expect(await storedLines(user.id)).toEqual([{ productId, quantity: 5 }]);
  });

  it('answers 404 NOT_FOUND when the cart has no such line', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    const res = await patch(user, productId, { quantity: 2 });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('NOT_FOUND');
    expect((await patch(user, crypto.randomUUID(), { quantity: 2 })).status).toBe(404);
    expect(await storedLines(user.id)).toEqual([]);
  });

  it('removes one line and answers the rest of the cart; removing it again is 404', async () => {
    const user = await shop.createUser('BUYER');
    const [a, b] = [await createProduct({ price: 100 }), await createProduct({ price: 200 })];
    await add(user, { productId: a, quantity: 1 });
    await add(user, { productId: b, quantity: 2 });
    const res = await removeLine(user, a);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ items: [{ productId: b, quantity: 2 }], subtotal: 400 });
    const again = await removeLine(user, a);
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('NOT_FOUND');
  });

  it('empties the whole cart, also when it is already empty', async () => {
    const user = await shop.createUser('BUYER');
    await add(user, { productId: await createProduct(), quantity: 1 });
    await add(user, { productId: await createProduct(), quantity: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await shop.request('DELETE', '/api/v1/cart', { token: user.token });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ items: [], subtotal: 0 });
    }
    expect(await storedLines(user.id)).toEqual([]);
  });
});

describe('each user sees and changes only their own lines', () => {
  it('keeps two users’ lines of the same product apart', async () => {
    const [ann, bob] = [await shop.createUser('BUYER'), await shop.createUser('BUYER')];
    const shared = await createProduct();
    const annOnly = await createProduct();
    await add(ann, { productId: shared, quantity: 4 });
    await add(ann, { productId: annOnly, quantity: 1 });
    await add(bob, { productId: shared, quantity: 9 });

    expect((await cart(bob)).body.data.items.map((i: any) => [i.productId, i.quantity])).toEqual([
      [shared, 9],
    ]);
    // Bob cannot reach Ann's line, whatever he sends.
    expect((await patch(bob, annOnly, { quantity: 5 })).status).toBe(404);
    expect((await removeLine(bob, annOnly)).status).toBe(404);
    await patch(bob, shared, { quantity: 1 });
    await shop.request('DELETE', '/api/v1/cart', { token: bob.token });

    expect(await storedLines(ann.id)).toEqual([
      { productId: shared, quantity: 4 },
      { productId: annOnly, quantity: 1 },
    ]);
    expect(await storedLines(bob.id)).toEqual([]);
  });

  it('needs a valid token on every cart endpoint', async () => {
    const productId = await createProduct();
    const calls: [string, string, unknown?][] = [
      ['GET', '/api/v1/cart'],
      ['POST', '/api/v1/cart/items', { productId, quantity: 1 }],
      ['PATCH', `/api/v1/cart/items/${productId}`, { quantity: 1 }],
      ['DELETE', `/api/v1/cart/items/${productId}`],
      ['DELETE', '/api/v1/cart'],
    ];
    for (const [method, path, body] of calls) {
      for (const token of [undefined, 'not.a.jwt']) {
        const res = await shop.request(method, path, { token, body });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.body.error).toBe('UNAUTHORIZED');
      }
    }
  });
});

describe('order placement reads and removes cart lines inside its own transaction', () => {
  it('reads all lines or the chosen ones, and removes only the ordered ones', async () => {
    const user = await shop.createUser('BUYER');
    const ids = [await createProduct(), await createProduct(), await createProduct()];
    for (const [i, productId] of ids.entries()) await add(user, { productId, quantity: i + 1 });
    const sorted = [...ids].sort();

    const removed = await shop.ctx.orm.em.fork().transactional(async (em) => {
      const all = await readCartLines(em, user.id);
      expect(all.map((l) => l.productId)).toEqual(sorted);
      const chosen = await readCartLines(em, user.id, [ids[2]!, ids[0]!, crypto.randomUUID()]);
      expect(chosen).toEqual(
        [
          { productId: ids[0], quantity: 1 },
          { productId: ids[2], quantity: 3 },
        ].sort((x, y) => x.productId!.localeCompare(y.productId!)),
      );
      expect(await readCartLines(em, user.id, [])).toEqual([]);
      return removeCartLines(em, user.id, [ids[0]!, ids[2]!]);
    });
    expect(removed).toBe(2);
    expect(await storedLines(user.id)).toEqual([{ productId: ids[1], quantity: 2 }]);
    expect(await removeCartLines(shop.ctx.orm.em.fork(), user.id, [])).toBe(0);
  });

  it('keeps the lines when the placing transaction rolls back', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    await add(user, { productId, quantity: 2 });
    await expect(
      shop.ctx.orm.em.fork().transactional(async (em) => {
        await removeCartLines(em, user.id, [productId]);
        throw new Error('out of stock');
      }),
    ).rejects.toThrow('out of stock');
    expect(await storedLines(user.id)).toEqual([{ productId, quantity: 2 }]);
  });

  it('locks the lines so a second placement from the same cart waits and then finds them gone', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    await add(user, { productId, quantity: 2 });
    let releaseFirst!: () => void;
    const firstMayCommit = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstRead!: () => void;
    const firstHasRead = new Promise<void>((resolve) => {
      firstRead = resolve;
    });
    const first = shop.ctx.orm.em.fork().transactional(async (em) => {
      const lines = await readCartLines(em, user.id);
      firstRead();
      await firstMayCommit;
      await removeCartLines(
        em,
        user.id,
        lines.map((l) => l.productId),
      );
      return lines;
    });
    await firstHasRead;
    const second = shop.ctx.orm.em.fork().transactional((em) => readCartLines(em, user.id));
    await waitForLockWaiters(1);
    releaseFirst();
    expect(await first).toEqual([{ productId, quantity: 2 }]);
    expect(await second).toEqual([]);
  });
});

describe('malformed input gets a 4xx in the envelope and writes nothing', () => {
  it('answers every malformed cart request with 4xx and leaves the cart untouched', async () => {
    const user = await shop.createUser('BUYER');
    const productId = await createProduct();
    await add(user, { productId, quantity: 3 });
    const before = await storedLines(user.id);
    const token = user.token;

    const bodies: unknown[] = [
      '{"productId": ',
      '{productId: 1}',
      'null',
      '[]',
      '"text"',
      '42',
      JSON.stringify([{ productId, quantity: 1 }]),
      {},
      { productId },
      { quantity: 1 },
      { productId: null, quantity: 1 },
      { productId: 123, quantity: 1 },
      { productId: 'not-a-uuid', quantity: 1 },
      { productId: `${productId}0`, quantity: 1 },
      { productId: "'; drop table cart_items; --", quantity: 1 },
      { productId: [productId], quantity: 1 },
      { productId, quantity: -1 },
      { productId, quantity: 0 },
      { productId, quantity: 1e308 },
      `{"productId": "${productId}", "quantity": 9007199254740993}`,
      `{"productId": "${productId}", "quantity": 1e400}`,
      { productId, quantity: 1.0001 },
      { productId, quantity: '1' },
      { productId, quantity: true },
      { productId, quantity: { n: 1 } },
      { productId, quantity: 997 }, // 3 + 997 > 999
    ];
    const answers = [];
    for (const body of bodies) answers.push([body, await add(user, body)] as const);
    for (const body of [
      '{"quantity": ',
      'null',
      '[]',
      { quantity: 0 },
      { quantity: 'x' },
      { quantity: 1e9 },
    ]) {
      answers.push([body, await patch(user, productId, body)] as const);
    }
    for (const id of ['abc', '0', `${productId.slice(0, -1)}g`, '%00', '..%2f..%2fetc']) {
      answers.push([id, await patch(user, id, { quantity: 1 })] as const);
      answers.push([id, await removeLine(user, id)] as const);
    }
    answers.push(['unknown id', await patch(user, crypto.randomUUID(), { quantity: 1 })] as const);
    answers.push(['unknown id', await removeLine(user, crypto.randomUUID())] as const);
    answers.push([
      'text/plain',
      await shop.request('POST', '/api/v1/cart/items', {
        token,
        body: JSON.stringify({ productId, quantity: 1 }),
        headers: { 'content-type': 'text/plain' },
      }),
    ] as const);
    answers.push([
      'oversized',
      await add(user, { productId, quantity: 1, padding: 'x'.repeat(1024 * 1024) }),
    ] as const);

    for (const [input, res] of answers) {
      const label = JSON.stringify(input).slice(0, 80);
      expect(res.status, label).toBeGreaterThanOrEqual(400);
      expect(res.status, label).toBeLessThan(500);
      expect(res.body, label).toEqual(
        expect.objectContaining({ error: expect.any(String), message: expect.any(String) }),
      );
    }
    expect(answers.at(-1)![1]).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } });
    expect(answers[0]![1]).toMatchObject({ status: 400, body: { error: 'VALIDATION_ERROR' } });
    expect(await storedLines(user.id)).toEqual(before);
    const [{ lines }] = (await query<{ lines: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as lines from cart_items where user_id = ${user.id}`,
    )) as [{ lines: number }];
    expect(lines).toBe(1);
  });
});

/** Polls until `count` backends of this test database wait for a row lock. */
async function waitForLockWaiters(count: number) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [row] = await query<{ waiting: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as waiting from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if (row!.waiting >= count) return;
    if (Date.now() > deadline) throw new Error(`expected ${count} lock waiters, saw ${row!.waiting}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
