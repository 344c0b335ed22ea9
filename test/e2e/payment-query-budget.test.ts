import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import type { PayOrderCommand } from '../../src/messaging/messages';
import { commandOrder, notifyOrder } from '../../src/orders/order-commands';
import { businessDay, ensureOrderSequence } from '../../src/orders/order-number';
import { placeOrder as placeOrderStep } from '../../src/orders/place-order';
import { capturePayment } from '../../src/payments/capture';
import { createProduct, inventoryOf } from '../support/catalog';
import { statementKind, statementsDuring } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// SPEC §9: each command's number of SQL statements is asserted, so an N+1 regression fails CI.
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
beforeAll(async () => {
  // No workers: every statement counted is the step's own; the steps are run by hand.
  shop = await createTestShop();
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER', { balance: 1_000_000 });
});
afterAll(() => shop?.close());

const kindOf = statementKind;

const payCommand = (orderId: string, method: 'CARD' | 'BALANCE'): PayOrderCommand => ({
  commandId: uuidv7(),
  userId: buyer.id,
  role: 'BUYER',
  idempotencyKey: `key-${uuidv7()}`,
  requestHash: 'hash',
  orderId,
  method,
});

/** Places an order exactly as the order worker does. */
async function placeOrder(user: TestUser, items: { productId: string; quantity: number }[]) {
  const now = new Date();
  const day = businessDay(now, shop.config.timezone);
  await ensureOrderSequence(shop.ctx.orm.em.fork(), day);
  const command = {
    commandId: uuidv7(),
    userId: user.id,
    role: 'BUYER' as const,
    idempotencyKey: null,
    requestHash: null,
    items,
  };
  const result = await shop.ctx.orm.em
    .fork()
    .transactional((tx) => placeOrderStep(tx, shop.config, command, now, day));
  const [order] = await query<{ total: number }>(
    shop.ctx.orm.em.fork(),
    sql`select total from orders where id = ${result.answer.id}`,
  );
  return { id: result.answer.id, total: order!.total };
}

async function pendingOrder(quantity = 1) {
  const productId = await createProduct(shop, seller);
  return placeOrder(buyer, [{ productId, quantity }]);
}

async function runPay(orderId: string, method: 'CARD' | 'BALANCE' = 'CARD') {
  let paymentId = '';
  const statements = await statementsDuring(shop.databaseName, () =>
    shop.ctx.orm.em.fork().transactional(async (tx) => {
      paymentId = (await commandOrder(tx, 'PAY', payCommand(orderId, method), new Date())).answer.id;
    }),
  );
  return { paymentId, kinds: statements.map(kindOf) };
}

describe('statements per payment step', () => {
  it('PAY: load, then one batch (payment row, save, history, outbox: capture + timer withdrawal, receipt)', async () => {
    const order = await pendingOrder();
    const { kinds } = await runPay(order.id);
    expect(kinds).toEqual([
      'begin',
      'select orders',
      'batch(insert payments, update orders, insert order_transitions, insert outbox_events, insert commands)',
      'commit',
    ]);
  });

  it('PAYMENT_SUCCEEDED: 5 statements, whatever the number of lines (no N+1)', async () => {
    const seen: string[][] = [];
    let lastProducts: string[] = [];
    for (const lines of [1, 5]) {
      const products = await Promise.all(Array.from({ length: lines }, () => createProduct(shop, seller)));
      lastProducts = products;
      const order = await placeOrder(
        buyer,
        products.map((productId) => ({ productId, quantity: 1 })),
      );
      const { paymentId } = await runPay(order.id);
      const statements = await statementsDuring(shop.databaseName, () =>
        shop.ctx.orm.em
          .fork()
          .transactional((tx) =>
            notifyOrder(
              tx,
              order.id,
              { type: 'PAYMENT_SUCCEEDED', paymentId, amount: order.total } as never,
              `paid-${paymentId}`,
              new Date(),
            ),
          ),
      );
      seen.push(statements.map(kindOf));
    }
    const expected = [
      'begin',
      // the notice recorded as processed and the order read: one statement
      'insert processed_messages + select orders',
      'batch(update payments, update orders, insert order_transitions, insert outbox_events)',
      // the order's lines read, their stock rows locked in product-id order and committed: one statement
      'update inventory',
      'commit',
    ];
    expect(seen[0]).toEqual(expected);
    expect(seen[1]).toEqual(expected);
    // every line's units left the stock: reserved back to 0, stock one less
    for (const productId of lastProducts)
      expect(await inventoryOf(shop, productId)).toMatchObject({ stock: 99, reserved: 0 });
  });

  it('the payment actor’s CAPTURE by card: start the attempt, the gateway’s own write, then the order’s own PAYMENT_SUCCEEDED step', async () => {
    const order = await pendingOrder();
    const { paymentId } = await runPay(order.id);
    const job = { data: { paymentId }, attemptsMade: 0, opts: { attempts: 3 } } as never;
    const kinds = (
      await statementsDuring(shop.databaseName, () =>
        capturePayment(shop.ctx, job, { paymentId }, shop.ctx.log),
      )
    ).map(kindOf);
    expect(kinds).toEqual([
      'update payments',
      // the gateway: its ledger row, idempotent by payment id, committed on its own
      'insert gateway_charges',
      // the fact applied to the order by its own step (no notice row, relay pass or mailbox job)
      'begin',
      'insert processed_messages + select orders',
      'batch(update payments, update orders, insert order_transitions, insert outbox_events)',
      'update inventory',
      'commit',
    ]);
  });

  it('the payment actor’s CAPTURE from the balance: the debit and the notice in one transaction', async () => {
    const order = await pendingOrder();
    const { paymentId } = await runPay(order.id, 'BALANCE');
    const job = { data: { paymentId }, attemptsMade: 0, opts: { attempts: 3 } } as never;
    const kinds = (
      await statementsDuring(shop.databaseName, () =>
        capturePayment(shop.ctx, job, { paymentId }, shop.ctx.log),
      )
    ).map(kindOf);
    expect(kinds).toEqual([
      'update payments',
      'begin',
      'select users',
      'select balance_transactions',
      'update users',
      'insert balance_transactions',
      'insert outbox_events',
      'commit',
    ]);
  });
});
