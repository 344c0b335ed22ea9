import type { EntityManager } from '@mikro-orm/postgresql';
import { query, run, sql } from '../db/sql';

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
  const onlyThese = productIds ? sql`and product_id = any(${[...productIds]}::uuid[])` : sql``;
  const forUpdate = lock ? sql`for update` : sql``;
  return query<CartLine>(
    em,
    sql`select product_id as "productId", quantity from cart_items
        where user_id = ${userId} ${onlyThese}
        order by product_id ${forUpdate}`,
  );
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
