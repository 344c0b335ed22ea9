import { initialTransition, transition } from 'xstate';
import { type OrderEvent, orderMachine } from '../../machines/order.machine';
import { uuidv7 } from '../../src/ids';
import type { PayOrderCommand } from '../../src/messaging/messages';
import { commitStep } from '../../src/orders/commit-transition';
import { loadOrder } from '../../src/orders/order-store';
import type { TestShop, TestUser } from './test-shop';

/**
 * Orders made through the real persistence path (machine step + commitStep, as the order worker does),
 * for tests of read-side surfaces before placement over HTTP exists in this branch.
 */
export interface FixtureProduct {
  id: string;
  name: string;
  price: number;
  category: string;
}

let sequence = 0;

export async function createFixtureProduct(
  shop: TestShop,
  seller: TestUser,
  overrides: { price?: number; initialStock?: number } = {},
): Promise<FixtureProduct> {
  const res = await shop.request('POST', '/api/v1/products', {
    token: seller.token,
    body: {
      name: `Fixture ${++sequence}`,
      price: overrides.price ?? 12_000,
      category: 'fixtures',
      initialStock: overrides.initialStock ?? 100,
    },
  });
  if (res.status !== 201) throw new Error(`creating a product answered ${res.status}`);
  const { id, name, price, category } = res.body.data;
  return { id, name, price, category };
}

/** Places a PENDING order for `quantity` units of `product` (reserving them), as the PLACE step does. */
export async function placeFixtureOrder(
  shop: TestShop,
  buyer: TestUser,
  product: FixtureProduct,
  quantity = 1,
): Promise<string> {
  const now = new Date();
  const orderId = uuidv7();
  const total = product.price * quantity;
  const [next, actions] = initialTransition(orderMachine, {
    orderId,
    userId: buyer.id,
    total,
    userCouponId: null,
    placedAt: now.getTime(),
    paymentTimeoutMs: shop.config.orderPaymentTimeoutMs,
    autoConfirmMs: shop.config.orderAutoConfirmMs,
  });
  await shop.ctx.orm.em.fork().transactional(async (em) => {
    await commitStep(em, {
      now,
      order: {
        id: orderId,
        orderNo: orderNumber(now),
        userId: buyer.id,
        subtotal: total,
        discount: 0,
        total,
        userCouponId: null,
        couponCode: null,
        createdAt: now,
        items: [
          {
            id: uuidv7(),
            productId: product.id,
            name: product.name,
            category: product.category,
            unitPrice: product.price,
            quantity,
          },
        ],
      },
      before: null,
      next,
      event: { type: 'xstate.init' },
      actions,
      messageId: null,
      command: undefined,
      placement: { lines: [{ productId: product.id, quantity }] },
    });
  });
  return orderId;
}

type EventWithoutAt = OrderEvent extends infer E ? (E extends OrderEvent ? Omit<E, 'at'> : never) : never;

/** Feeds one event to a stored order through transition() + commitStep, like the order worker. */
export async function stepFixtureOrder(
  shop: TestShop,
  orderId: string,
  event: EventWithoutAt,
  command?: PayOrderCommand,
): Promise<void> {
  await shop.ctx.orm.em.fork().transactional(async (em) => {
    const order = await loadOrder(em, orderId);
    if (!order) throw new Error(`no order ${orderId}`);
    const now = new Date();
    const full = { ...event, at: now.getTime() } as OrderEvent;
    if (!order.snapshot.can(full)) throw new Error(`the machine refuses ${event.type} in this state`);
    const [next, actions] = transition(orderMachine, order.snapshot, full);
    await commitStep(em, {
      now,
      order,
      before: order.snapshot,
      next,
      event: full,
      actions,
      messageId: null,
      command: command && { name: 'PAY', data: command },
    });
  });
}

/** PENDING → PENDING.paying → PAID.active: a card payment accepted and captured. */
export async function payFixtureOrder(shop: TestShop, buyer: TestUser, orderId: string): Promise<void> {
  const paymentId = uuidv7();
  const command: PayOrderCommand = {
    commandId: uuidv7(),
    userId: buyer.id,
    role: buyer.role,
    idempotencyKey: `fixture-${paymentId}`,
    requestHash: null,
    orderId,
    method: 'CARD',
  };
  await stepFixtureOrder(shop, orderId, { type: 'PAY', paymentId, method: 'CARD' }, command);
  const order = await loadOrder(shop.ctx.orm.em.fork(), orderId);
  await stepFixtureOrder(shop, orderId, {
    type: 'PAYMENT_SUCCEEDED',
    paymentId,
    amount: order!.total,
  });
}

// yyyyMMdd + 8 digits, unique enough within a test database.
function orderNumber(now: Date): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  return `${day}${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
}
