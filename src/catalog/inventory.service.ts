import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import { db } from '../db/database';
import { sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { type Actor, assertMayManage } from './ownership';

/** Stock may not grow past this, so `stock + quantity` can never overflow the integer column. */
export const MAX_STOCK = 1_000_000_000;

export interface InventoryView {
  productId: string;
  stock: number;
  reserved: number;
  available: number;
}

const toInventoryView = ({
  productId,
  stock,
  reserved,
}: Omit<InventoryView, 'available'>): InventoryView => ({
  productId,
  stock,
  reserved,
  available: stock - reserved,
});

const readInventory = (em: EntityManager, productId: string) =>
  db(em)
    .selectFrom('inventory')
    .select(['product_id as productId', 'stock', 'reserved'])
    .where('product_id', '=', productId)
    .executeTakeFirst();

export async function getInventory(ctx: AppContext, productId: string): Promise<InventoryView> {
  const row = await readInventory(ctx.orm.em.fork(), productId);
  if (!row) throw new DomainError('PRODUCT_NOT_FOUND');
  return toInventoryView(row);
}

/**
 * Adds `quantity` units to a product's stock in one atomic statement that also checks ownership.
 * Runs in the caller's transaction (the inventory actor's step); the cached product view is
 * invalidated by the caller after commit.
 */
export async function applyRestock(
  em: EntityManager,
  actor: Actor,
  productId: string,
  quantity: number,
): Promise<InventoryView> {
  const isAdmin = actor.role === 'ADMIN';
  const ownerId = actor.role === 'SELLER' ? actor.id : null;
  const row = await db(em)
    .updateTable('inventory as i')
    .from('products as p')
    .set((eb) => ({
      stock: eb('i.stock', '+', quantity),
      version: eb('i.version', '+', 1),
      updated_at: sql<string>`now()`,
    }))
    .where('i.product_id', '=', productId)
    .whereRef('p.id', '=', 'i.product_id')
    .where(sql<boolean>`(${isAdmin}::boolean or p.seller_id = ${ownerId}::uuid)`)
    .where('i.stock', '<=', MAX_STOCK - quantity)
    .returning(['i.product_id as productId', 'i.stock', 'i.reserved'])
    .executeTakeFirst();
  if (!row) throw await whyRestockFailed(em, actor, productId);
  return toInventoryView(row);
}

/**
 * An operator's correction of counted stock (± delta). Stock never drops below what PENDING orders
 * hold, so a correction cannot take units already promised to a buyer.
 */
export async function applyStockAdjustment(
  em: EntityManager,
  productId: string,
  delta: number,
): Promise<InventoryView> {
  const row = await db(em)
    .updateTable('inventory')
    .set((eb) => ({
      stock: eb('stock', '+', delta),
      version: eb('version', '+', 1),
      updated_at: sql<string>`now()`,
    }))
    .where('product_id', '=', productId)
    .where((eb) => eb(eb('stock', '+', delta), '>=', eb.ref('reserved')))
    .where((eb) => eb(eb('stock', '+', delta), '<=', MAX_STOCK))
    .returning(['product_id as productId', 'stock', 'reserved'])
    .executeTakeFirst();
  if (row) return toInventoryView(row);
  const found = await readInventory(em, productId);
  if (!found) throw new DomainError('PRODUCT_NOT_FOUND');
  const messages = {
    en: 'Stock may not drop below the units reserved by pending orders',
    ko: '재고는 대기 중인 주문이 예약한 수량보다 적어질 수 없습니다',
  };
  throw new DomainError('VALIDATION_ERROR', messages, [
    { field: 'body.delta', message: `stock + delta must stay between ${found.reserved} and ${MAX_STOCK}` },
  ]);
}

/** The update changed nothing: say whether the product is unknown, not the actor's, or too full. */
async function whyRestockFailed(em: EntityManager, actor: Actor, productId: string) {
  const found = await db(em)
    .selectFrom('products as p')
    .innerJoin('inventory as i', 'i.product_id', 'p.id')
    .select('p.seller_id as sellerId')
    .where('p.id', '=', productId)
    .executeTakeFirst();
  if (!found) return new DomainError('PRODUCT_NOT_FOUND');
  assertMayManage(actor, found.sellerId);
  const messages = {
    en: `Stock may not exceed ${MAX_STOCK}`,
    ko: `재고는 ${MAX_STOCK}개를 넘을 수 없습니다`,
  };
  return new DomainError('VALIDATION_ERROR', messages, [
    { field: 'body.quantity', message: `stock + quantity must be at most ${MAX_STOCK}` },
  ]);
}
