import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import { query, sql } from '../db/sql';
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

interface InventoryRow {
  productId: string;
  stock: number;
  reserved: number;
}

const toInventoryView = ({ productId, stock, reserved }: InventoryRow): InventoryView => ({
  productId,
  stock,
  reserved,
  available: stock - reserved,
});

export async function getInventory(ctx: AppContext, productId: string): Promise<InventoryView> {
  const [row] = await query<InventoryRow>(
    ctx.orm.em.fork(),
    sql`select product_id as "productId", stock, reserved from inventory where product_id = ${productId}`,
  );
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
  const [row] = await query<InventoryRow>(
    em,
    sql`update inventory i
        set stock = i.stock + ${quantity}, version = i.version + 1, updated_at = now()
        from products p
        where i.product_id = ${productId} and p.id = i.product_id
          and (${isAdmin}::boolean or p.seller_id = ${ownerId}::uuid)
          and i.stock <= ${MAX_STOCK - quantity}
        returning i.product_id as "productId", i.stock, i.reserved`,
  );
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
  const [row] = await query<InventoryRow>(
    em,
    sql`update inventory set stock = stock + ${delta}, version = version + 1, updated_at = now()
        where product_id = ${productId} and stock + ${delta} >= reserved and stock + ${delta} <= ${MAX_STOCK}
        returning product_id as "productId", stock, reserved`,
  );
  if (row) return toInventoryView(row);
  const [found] = await query<InventoryRow>(
    em,
    sql`select product_id as "productId", stock, reserved from inventory where product_id = ${productId}`,
  );
  if (!found) throw new DomainError('PRODUCT_NOT_FOUND');
  throw new DomainError('VALIDATION_ERROR', 'Stock may not drop below the units reserved by pending orders', [
    { field: 'body.delta', message: `stock + delta must stay between ${found.reserved} and ${MAX_STOCK}` },
  ]);
}

/** The update changed nothing: say whether the product is unknown, not the actor's, or too full. */
async function whyRestockFailed(em: EntityManager, actor: Actor, productId: string) {
  const [found] = await query<{ sellerId: string }>(
    em,
    sql`select p.seller_id as "sellerId" from products p join inventory i on i.product_id = p.id
        where p.id = ${productId}`,
  );
  if (!found) return new DomainError('PRODUCT_NOT_FOUND');
  assertMayManage(actor, found.sellerId);
  return new DomainError('VALIDATION_ERROR', `Stock may not exceed ${MAX_STOCK}`, [
    { field: 'body.quantity', message: `stock + quantity must be at most ${MAX_STOCK}` },
  ]);
}
