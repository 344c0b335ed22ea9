import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../support/catalog';
import { placeOrder } from '../support/orders';
import { pay, waitForOrder } from '../support/payments';
import { watchStatements } from '../support/query-counter';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// A checkout's statements outside the order actor (the payment actor's capture, the event consumers)
// go to PostgreSQL as named prepared statements, whichever process and connection sends them.
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all', PAYMENT_GATEWAY_LATENCY_MS: '0' });
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER');
});
afterAll(() => shop?.close());

const HOT: Record<string, RegExp> = {
  'payment attempt': /^update payments set status = 'PROCESSING'/,
  'gateway capture': /^insert into gateway_charges .* 'CAPTURE'/,
  'order view': /^select o\.id, o\.order_no, .* left join lateral/,
  notifications: /^with first as \( insert into processed_messages .* insert into notifications/,
  'sales-stats record and lock': /^with given as \( .* insert into processed_messages .*'sales-stats'/,
  'sales lines': /^with added as \( insert into sales_lines/,
};

type Sends = Map<string, { sent: number; named: number }>;

/** Counts into `sends` each hot statement's sends during `fn`: how many, and how many by name. */
function countingHotSends(sends: Sends, fn: () => Promise<unknown>) {
  return watchStatements(
    shop.databaseName,
    (statement, name) => {
      const text = statement.replace(/\s+/g, ' ').trim();
      const hot = Object.keys(HOT).find((k) => HOT[k]!.test(text));
      if (!hot) return;
      const seen = sends.get(hot) ?? { sent: 0, named: 0 };
      seen.sent++;
      if (name?.startsWith('hot_')) seen.named++;
      sends.set(hot, seen);
    },
    fn,
  );
}

describe('a checkout’s statements by name', () => {
  it('the capture, the order view and the consumers’ statements are sent as named prepared statements', async () => {
    const productId = await createProduct(shop, seller);
    const checkouts = 3;
    const sends: Sends = new Map();
    await countingHotSends(sends, async () => {
      for (let i = 0; i < checkouts; i++) {
        const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
        expect((await pay(shop, buyer, { orderId: order.id, method: 'CARD' })).status).toBe(202);
        await waitForOrder(shop, buyer, order.id, (o) => o.status === 'PAID');
      }
      // the consumers run after PAID: wait until each has applied every checkout's event
      await eventually(
        async () => Object.keys(HOT).every((k) => (sends.get(k)?.sent ?? 0) >= checkouts),
        10_000,
      );
    });
    for (const kind of Object.keys(HOT)) {
      const seen = sends.get(kind) ?? { sent: 0, named: 0 };
      expect([kind, seen.sent >= checkouts, seen.named]).toEqual([kind, true, seen.sent]);
    }
  });
});
