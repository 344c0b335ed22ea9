import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/sql';
import { ORDER_NOTICE } from '../../src/messaging/messages';
import { createProduct } from '../support/catalog';
import { notify } from '../support/events';
import { placeOrder } from '../support/orders';
import { getOrder, ledgerOf, pay, refund, rows, waitForOrder, waitForRefund } from '../support/payments';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// The payment actor applies a card's outcome to the order itself (src/payments/tell-order.ts). When
// PostgreSQL refuses that step, the outcome goes as a notice through the outbox, under the same
// message id, and the order applies it from its mailbox once it can: PAID once, one capture.
let shop: TestShop;
let seller: TestUser;
let buyer: TestUser;

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all' });
  seller = await shop.createUser('SELLER');
  buyer = await shop.createUser('BUYER');
});
afterAll(async () => {
  await rows(shop, sql`drop trigger if exists refuse_paid on orders`).catch(() => undefined);
  await shop?.close();
});

/** Refuses any update that makes this order PAID while the trigger exists (the test's own database). */
async function refusePaid(orderId: string) {
  await rows(
    shop,
    sql.raw(`create or replace function refuse_paid() returns trigger language plpgsql as $$
      begin
        if new.id = '${orderId}' and new.status = 'PAID' then raise exception 'refused by the test'; end if;
        return new;
      end $$`),
  );
  await rows(
    shop,
    sql`create trigger refuse_paid before update on orders for each row execute function refuse_paid()`,
  );
}

describe("a card payment's outcome the order cannot take at once", () => {
  it('goes as a notice through the outbox and is applied once when the order can take it', async () => {
    const productId = await createProduct(shop, seller, { stock: 5 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    await refusePaid(order.id);
    const res = await pay(shop, buyer, { orderId: order.id, method: 'CARD', cardToken: 'tok_ok' });
    expect(res.status).toBe(202);
    const paymentId = res.body.data.id as string;

    // The step was refused, so the outcome waits as a notice under the id the step would have recorded.
    const notice = await eventually(async () => {
      const [row] = await rows<{ job_id: string }>(
        shop,
        sql`select job_id from outbox_events where type = ${ORDER_NOTICE} and aggregate_id = ${order.id}`,
      );
      return row;
    }, 20_000);
    expect(notice?.job_id).toBe(`paid-${paymentId}`);
    expect((await getOrder(shop, buyer, order.id)).status).toBe('PENDING');

    await rows(shop, sql`drop trigger refuse_paid on orders`);
    // The notice's job may have failed while the trigger stood: it is retried with backoff.
    const paid = await waitForOrder(shop, buyer, order.id, (o) => o.status === 'PAID', 30_000);
    expect(paid.payment).toMatchObject({ id: paymentId, status: 'COMPLETED' });
    expect((await ledgerOf(shop, order.id)).map((l) => l.kind)).toEqual(['CAPTURE']);
    const applied = await rows<{ message_id: string }>(
      shop,
      sql`select message_id from order_transitions where order_id = ${order.id} and event = 'PAYMENT_SUCCEEDED'`,
    );
    expect(applied).toEqual([{ message_id: `paid-${paymentId}` }]);
  }, 60_000);
});

describe("a refund's outcome told twice under two ids (a REFUND run again, a re-offer by the sweep)", () => {
  it('counts once: the second is a duplicate, the refunded amount and the refund row stay as they were', async () => {
    const productId = await createProduct(shop, seller, { price: 5_000, stock: 5 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const paid = await pay(shop, buyer, { orderId: order.id, method: 'CARD', cardToken: 'tok_ok' });
    expect(paid.status).toBe(202);
    const paymentId = paid.body.data.id as string;
    await waitForOrder(shop, buyer, order.id, (o) => o.status === 'PAID', 30_000);
    const asked = await refund(shop, buyer, { paymentId, amount: 2_000, restock: false });
    expect(asked.status).toBe(202);
    const refundId = asked.body.data.id as string;
    expect((await waitForRefund(shop, buyer, refundId)).status).toBe('REFUNDED');
    await waitForOrder(shop, buyer, order.id, (o) => o.refundedAmount === 2_000);

    const fact = { type: 'REFUND_COMPLETED', refundId, paymentId, amount: 2_000, restock: false };
    expect(await notify(shop, order.id, fact)).toBe('duplicate');
    expect(await notify(shop, order.id, { type: 'REFUND_FAILED', refundId, paymentId, amount: 2_000 })).toBe(
      'duplicate',
    );

    const after = await getOrder(shop, buyer, order.id);
    expect(after).toMatchObject({ status: 'PAID', refundedAmount: 2_000 });
    expect((await waitForRefund(shop, buyer, refundId)).status).toBe('REFUNDED');
    expect((await ledgerOf(shop, order.id)).map((l) => l.kind)).toEqual(['CAPTURE', 'REFUND']);
  }, 60_000);
});
