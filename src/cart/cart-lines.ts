import type { EntityManager } from '@mikro-orm/postgresql';
import { db } from '../db/database';
import { run, sql } from '../db/sql';

export interface CartLine {
  productId: string;
  quantity: number;
}

export interface ReadCartLinesOptions {
  /**
   * Lock the lines (`FOR UPDATE`, default true) so two order placements from one cart cannot both
   * take a line: the second waits for the first and then no longer sees the lines it removed.
   */
  lock?: boolean;
}

/**
 * The user's cart lines, all of them or only those of `productIds`, ordered by product id (the
 * lock order). Runs in `em`'s transaction, so order placement reads, reserves and removes atomically.
 */
export async function readCartLines(
  em: EntityManager,
  userId: string,
  productIds?: readonly string[],
  { lock = true }: ReadCartLinesOptions = {},
): Promise<CartLine[]> {
  if (productIds?.length === 0) return [];
  let lines = db(em)
    .selectFrom('cart_items')
    .select(['product_id as productId', 'quantity'])
    .where('user_id', '=', userId)
    .orderBy('product_id');
  if (productIds) lines = lines.where('product_id', '=', sql<string>`any(${[...productIds]}::uuid[])`);
  return (lock ? lines.forUpdate() : lines).execute();
}

/** Removes the user's lines of `productIds` (the ordered ones) and answers how many there were. */
export async function removeCartLines(
  em: EntityManager,
  userId: string,
  productIds: readonly string[],
): Promise<number> {
  if (productIds.length === 0) return 0;
  return run(
    em,
    sql`delete from cart_items where user_id = ${userId} and product_id = any(${[...productIds]}::uuid[])`,
  );
}
