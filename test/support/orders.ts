import { uuidv7 } from '../../src/ids';
import { commandOrder, notifyOrder } from '../../src/orders/order-commands';
import type { TestShop, TestUser } from './test-shop';

/** The envelope of a command a buyer sends without an Idempotency-Key: a fresh command id. */
export const buyerCommand = (buyer: { id: string }) => ({
  commandId: uuidv7(),
  userId: buyer.id,
  role: 'BUYER' as const,
  idempotencyKey: null,
  requestHash: null,
});

/** Places an order through the API (201 expected) and returns it. */
export async function placeOrder(
  shop: TestShop,
  buyer: TestUser,
  items: { productId: string; quantity: number }[],
  userCouponId?: string,
) {
  const res = await shop.request('POST', '/api/v1/orders', {
    token: buyer.token,
    body: { items, ...(userCouponId ? { userCouponId } : {}) },
  });
  if (res.status !== 201) throw new Error(`order not placed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data as { id: string; total: number; orderNo: string; expiresAt: string };
}

/**
 * Drives an order to PAID through the order actor's own steps (PAY, then the payment actor's
 * PAYMENT_SUCCEEDED notice), without the payment actor: for tests about what happens after payment.
 */
export async function markPaid(shop: TestShop, buyer: TestUser, orderId: string, amount: number) {
  // One transaction: the payment is SUCCEEDED when the PAY message is committed, so a payment actor
  // that runs in the test (WORKERS=all) finds it settled and never captures it at the gateway. In two
  // transactions the actor could capture in between, depending on how fast the relay was.
  return shop.ctx.orm.em.fork().transactional(async (tx) => {
    const pay = await commandOrder(
      tx,
      'PAY',
      { ...buyerCommand(buyer), orderId, method: 'CARD' },
      new Date(),
    );
    const paymentId = pay.answer.id;
    await notifyOrder(
      tx,
      orderId,
      { type: 'PAYMENT_SUCCEEDED', paymentId, amount } as never,
      `test-paid-${paymentId}`,
      new Date(),
    );
    return paymentId as string;
  });
}

/**
 * Delivers a notice (a timeout coming due, a payment outcome) to an order through the order actor's
 * own step, at a moment the test chooses: 'applied' if the machine took it, else why not.
 */
export async function deliverNotice(
  shop: TestShop,
  orderId: string,
  event: { type: string; [key: string]: unknown },
): Promise<'applied' | 'ignored' | 'duplicate'> {
  const outcome = await shop.ctx.orm.em
    .fork()
    .transactional((tx) => notifyOrder(tx, orderId, event, `test-${event.type}-${uuidv7()}`, new Date()));
  return typeof outcome === 'string' ? outcome : 'applied';
}
