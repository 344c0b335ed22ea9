import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import { db } from '../db/database';
import { MAX_CART_QUANTITY } from '../db/schema/cart-item.entity';
import type { ProductStatus } from '../db/schema/product.entity';
import { run, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';

export interface CartItemView {
  productId: string;
  name: string;
  unitPrice: number;
  quantity: number;
  lineTotal: number;
  available: number;
  status: ProductStatus;
}

export interface CartView {
  items: CartItemView[];
  subtotal: number;
}

/**
 * The user's cart as it is now: current product names and prices (the cart is the present, not a
 * snapshot) and the units available (stock − reserved), lines in the order they were added.
 */
export async function getCart(ctx: AppContext, userId: string): Promise<CartView> {
  return readCart(ctx.orm.em.fork(), userId);
}

/**
 * Adds `quantity` units to the user's line of the product, creating it if needed. One statement does
 * the check and the merge, so concurrent adds neither lose units nor push a line past the cap.
 */
export async function addCartItem(
  ctx: AppContext,
  userId: string,
  productId: string,
  quantity: number,
): Promise<CartView> {
  const em = ctx.orm.em.fork();
  const written = await run(
    em,
    sql`insert into cart_items (user_id, product_id, quantity, created_at, updated_at)
        select ${userId}, p.id, ${quantity}, clock_timestamp(), clock_timestamp()
        from products p where p.id = ${productId} and p.status = 'ON_SALE'
        on conflict (user_id, product_id) do update
          set quantity = cart_items.quantity + excluded.quantity, updated_at = excluded.updated_at
          where cart_items.quantity + excluded.quantity <= ${MAX_CART_QUANTITY}`,
  );
  if (written === 0) await explainRefusedAdd(em, userId, productId, quantity);
  return readCart(em, userId);
}

/** Sets the quantity of an existing line (1 … 999; removing is DELETE's job). */
export async function setCartItemQuantity(
  ctx: AppContext,
  userId: string,
  productId: string,
  quantity: number,
): Promise<CartView> {
  const em = ctx.orm.em.fork();
  const updated = await run(
    em,
    sql`update cart_items set quantity = ${quantity}, updated_at = clock_timestamp()
        where user_id = ${userId} and product_id = ${productId}`,
  );
  if (updated === 0) throw noSuchLine();
  return readCart(em, userId);
}

export async function removeCartItem(ctx: AppContext, userId: string, productId: string): Promise<CartView> {
  const em = ctx.orm.em.fork();
  const removed = await run(
    em,
    sql`delete from cart_items where user_id = ${userId} and product_id = ${productId}`,
  );
  if (removed === 0) throw noSuchLine();
  return readCart(em, userId);
}

export async function clearCart(ctx: AppContext, userId: string): Promise<CartView> {
  await run(ctx.orm.em.fork(), sql`delete from cart_items where user_id = ${userId}`);
  return { items: [], subtotal: 0 };
}

const noSuchLine = () =>
  new DomainError('NOT_FOUND', {
    en: 'The cart has no line for this product',
    ko: '장바구니에 이 상품이 담겨 있지 않습니다',
  });

/** The add wrote nothing: say why (only on this unhappy path do we pay for the extra read). */
async function explainRefusedAdd(em: EntityManager, userId: string, productId: string, quantity: number) {
  const product = await db(em)
    .selectFrom('products as p')
    .leftJoin('cart_items as c', (join) =>
      join.onRef('c.product_id', '=', 'p.id').on('c.user_id', '=', userId),
    )
    .select(['p.status', 'c.quantity as inCart'])
    .where('p.id', '=', productId)
    .executeTakeFirst();
  if (!product) throw new DomainError('PRODUCT_NOT_FOUND');
  if (product.status !== 'ON_SALE') throw new DomainError('PRODUCT_NOT_AVAILABLE');
  const inCart = product.inCart ?? 0;
  const messages = {
    en: `A cart line holds at most ${MAX_CART_QUANTITY} units`,
    ko: `장바구니 항목 하나에는 최대 ${MAX_CART_QUANTITY}개까지 담을 수 있습니다`,
  };
  throw new DomainError('CART_ITEM_INVALID', messages, [
    {
      field: 'body.quantity',
      message: `${inCart} in the cart + ${quantity} would exceed ${MAX_CART_QUANTITY}`,
      inCart,
      max: MAX_CART_QUANTITY,
    },
  ]);
}

async function readCart(em: EntityManager, userId: string): Promise<CartView> {
  const rows = await db(em)
    .selectFrom('cart_items as c')
    .innerJoin('products as p', 'p.id', 'c.product_id')
    .leftJoin('inventory as i', 'i.product_id', 'c.product_id')
    .select([
      'c.product_id as productId',
      'p.name',
      'p.price as unitPrice',
      'c.quantity',
      sql<number>`coalesce(i.stock - i.reserved, 0)`.as('available'),
      'p.status',
    ])
    .where('c.user_id', '=', userId)
    .orderBy('c.created_at')
    .orderBy('c.product_id')
    .execute();
  const items = rows.map(({ productId, name, unitPrice, quantity, available, status }) => ({
    productId,
    name,
    unitPrice,
    quantity,
    lineTotal: unitPrice * quantity,
    available,
    status,
  }));
  return { items, subtotal: items.reduce((sum, item) => sum + item.lineTotal, 0) };
}
