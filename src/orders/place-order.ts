import type { EntityManager } from '@mikro-orm/postgresql';
import { initialOrderStep } from '../../machines/order-steps';
import { readCartLines, removeCartLines } from '../cart/cart-lines';
import type { Config } from '../config';
import { quoteCoupon } from '../coupons/coupon-quote';
import type { Row } from '../db/database';
import { query, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import type { PlaceOrderCommand } from '../messaging/messages';
import { commitStep, type Step, type StepResult } from './commit-transition';
import { type StockLine, sumByProduct } from './effects/stock-plan';
import { forgetMissingSequence, formatOrderNo, orderSequenceName } from './order-number';
import type { NewOrder, NewOrderItem } from './order-store';

/** Totals stay well inside PostgreSQL's int range. */
export const MAX_ORDER_TOTAL = 2_000_000_000;

export type ProductRow = Row<'products', 'id' | 'name' | 'price' | 'category' | 'status'>;

/**
 * PLACE: snapshot the lines at today's prices, run the machine's initial transition and commit the
 * new order with its reservation. Any shortage, unknown or unavailable product refuses the whole
 * order and nothing is written.
 */
export async function placeOrder(
  em: EntityManager,
  config: PlacementConfig,
  command: PlaceOrderCommand,
  now: Date,
  day: string,
): Promise<StepResult> {
  const lines = sumByProduct(await orderedLines(em, command));
  const { products, sequence } = await loadProductsAndNumber(em, lines, day);
  refuseAboveMaxTotal(subtotalAtPrices(lines, products)); // before anything else
  const userCouponId = command.userCouponId ?? null;
  // Validated and priced here; held atomically by the machine's holdCoupon effect in this transaction.
  const coupon = userCouponId
    ? await quoteCoupon(em, {
        userId: command.userId,
        userCouponId,
        lines: lines.map((l) => {
          const product = products.get(l.productId)!;
          return { ...l, unitPrice: product.price, sellerId: product.seller_id };
        }),
        at: now,
      })
    : undefined;
  if (command.fromCart)
    await removeCartLines(
      em,
      command.userId,
      lines.map((l) => l.productId),
    );
  return commitStep(
    em,
    placementStep(config, command, { lines, products, orderNo: formatOrderNo(day, sequence), coupon, now }),
  );
}

export type PlacementConfig = Pick<Config, 'orderPaymentTimeoutMs' | 'orderAutoConfirmMs'>;

/** The order's total before any coupon, at the products' current prices. */
export function subtotalAtPrices(lines: readonly StockLine[], products: Map<string, ProductRow>): number {
  return lines.reduce((sum, l) => sum + products.get(l.productId)!.price * l.quantity, 0);
}

function refuseAboveMaxTotal(subtotal: number): void {
  if (subtotal > MAX_ORDER_TOTAL) {
    throw new DomainError('VALIDATION_ERROR', {
      en: `An order may total at most ${MAX_ORDER_TOTAL} won`,
      ko: `주문 금액은 최대 ${MAX_ORDER_TOTAL}원까지 가능합니다`,
    });
  }
}

/** The machine's initial step of a new order: its lines snapshotted at today's prices. */
export function placementStep(
  config: PlacementConfig,
  command: PlaceOrderCommand,
  p: {
    lines: StockLine[];
    products: Map<string, ProductRow>;
    orderNo: string;
    coupon: { discount: number; code: string | null } | undefined;
    now: Date;
  },
): Step & { order: NewOrder } {
  const items: NewOrderItem[] = p.lines.map((line) => {
    const product = p.products.get(line.productId)!;
    return {
      id: uuidv7(),
      productId: product.id,
      name: product.name,
      category: product.category,
      unitPrice: product.price,
      quantity: line.quantity,
    };
  });
  const subtotal = subtotalAtPrices(p.lines, p.products);
  const userCouponId = command.userCouponId ?? null;
  const discount = p.coupon?.discount ?? 0;
  const orderId = uuidv7();
  const total = subtotal - discount;
  const [snapshot, actions] = initialOrderStep({
    orderId,
    userId: command.userId,
    total,
    userCouponId,
    placedAt: p.now.getTime(),
    paymentTimeoutMs: config.orderPaymentTimeoutMs,
    autoConfirmMs: config.orderAutoConfirmMs,
  });
  return {
    now: p.now,
    order: {
      id: orderId,
      orderNo: p.orderNo,
      userId: command.userId,
      subtotal,
      discount,
      total,
      userCouponId,
      couponCode: p.coupon?.code ?? null,
      createdAt: p.now,
      items,
    },
    before: null,
    next: snapshot,
    event: { type: 'xstate.init' },
    actions,
    messageId: command.commandId,
    command: { name: 'PLACE', data: command },
    placement: { lines: p.lines },
  };
}

async function orderedLines(em: EntityManager, command: PlaceOrderCommand): Promise<StockLine[]> {
  if (!command.fromCart) return command.items ?? [];
  const lines = await readCartLines(em, command.userId, command.productIds);
  if (lines.length === 0) throw new DomainError('CART_EMPTY');
  return lines;
}

/** The ordered products and the day's next order number, in one round trip. */
async function loadProductsAndNumber(em: EntityManager, lines: StockLine[], day: string) {
  const rows = await query<ProductRow & Row<'products', 'seller_id'> & { sequence: string }>(
    em,
    sql`select p.id, p.name, p.price, p.category, p.status, p.seller_id, n.sequence
        from (select nextval(${orderSequenceName(day)}::regclass) as sequence) n
        left join products p on p.id = any(${lines.map((l) => l.productId)}::uuid[])`,
  ).catch((error) => {
    forgetMissingSequence(em, day, error);
    throw error;
  });
  const found = rows.filter((r) => r.id !== null);
  const products = new Map(found.map((r) => [r.id, r]));
  const missing = lines.filter((l) => !products.has(l.productId));
  if (missing.length > 0) {
    throw new DomainError(
      'PRODUCT_NOT_FOUND',
      undefined,
      missing.map((l) => ({ field: 'productId', message: 'no such product', productId: l.productId })),
    );
  }
  const unavailable = found.filter((p) => p.status !== 'ON_SALE');
  if (unavailable.length > 0) {
    throw new DomainError(
      'PRODUCT_NOT_AVAILABLE',
      undefined,
      unavailable.map((p) => ({ field: 'productId', message: `product is ${p.status}`, productId: p.id })),
    );
  }
  return { products, sequence: rows[0]!.sequence };
}
