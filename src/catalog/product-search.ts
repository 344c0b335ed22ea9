import type { RawBuilder } from 'kysely';
import type { AppContext } from '../context';
import type { ProductStatus } from '../db/schema/product.entity';
import { query, sql } from '../db/sql';
import { PRODUCT_VIEW_COLUMNS, type ProductRow, type ProductView, toProductView } from './product-view';

export const PRODUCT_SORTS = [
  'price,asc',
  'price,desc',
  'createdAt,desc',
  'createdAt,asc',
  'popular',
] as const;
export type ProductSort = (typeof PRODUCT_SORTS)[number];

export interface ProductFilter {
  category?: string | undefined;
  brand?: string | undefined;
  minPrice?: number | undefined;
  maxPrice?: number | undefined;
  keyword?: string | undefined;
  /** Exactly this status; without it every product but DISCONTINUED ones. */
  status?: ProductStatus | undefined;
  /** Only products with units to sell (`available` > 0, what a buyer can order now). */
  inStock?: boolean | undefined;
}

export interface ProductSearch extends ProductFilter {
  sort?: ProductSort | undefined;
  page: number;
  size: number;
}

// Every order ends on the id, so pages never overlap or skip rows that tie on the sort key.
const ORDER_BY: Record<ProductSort, RawBuilder<unknown>> = {
  'price,asc': sql`p.price asc, p.id asc`,
  'price,desc': sql`p.price desc, p.id desc`,
  'createdAt,desc': sql`p.created_at desc, p.id desc`,
  'createdAt,asc': sql`p.created_at asc, p.id asc`,
  popular: sql`i.sold desc nulls last, p.created_at desc, p.id desc`,
};

/** `%`, `_` and the escape character itself match literally inside an ILIKE pattern. */
export function likePattern(keyword: string): string {
  return `%${keyword.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The WHERE clause of a search; ILIKE '%…%' on name and brand is served by their pg_trgm GIN indexes. */
export function productWhere(filter: ProductFilter): RawBuilder<unknown> {
  const conditions: RawBuilder<unknown>[] = [
    filter.status ? sql`p.status = ${filter.status}` : sql`p.status <> 'DISCONTINUED'`,
  ];
  if (filter.category !== undefined) conditions.push(sql`p.category = ${filter.category}`);
  if (filter.brand !== undefined) conditions.push(sql`p.brand = ${filter.brand}`);
  if (filter.minPrice !== undefined) conditions.push(sql`p.price >= ${filter.minPrice}`);
  if (filter.maxPrice !== undefined) conditions.push(sql`p.price <= ${filter.maxPrice}`);
  if (filter.keyword) {
    const pattern = likePattern(filter.keyword);
    conditions.push(sql`(p.name ilike ${pattern} or p.brand ilike ${pattern})`);
  }
  if (filter.inStock) conditions.push(sql`i.stock - i.reserved > 0`);
  return sql.join(conditions, sql` and `);
}

/** The inventory is joined when a filter reads it (a product without an inventory row has no units). */
const inventoryJoin = (filter: ProductFilter) =>
  filter.inStock ? sql`join inventory i on i.product_id = p.id` : sql``;

/** The count statement of a search (exported so tests can EXPLAIN it). */
export function productCountStatement(filter: ProductFilter) {
  return sql<{ count: number }>`select count(*)::int as count
    from products p ${inventoryJoin(filter)} where ${productWhere(filter)}`;
}

function productPageStatement(search: ProductSearch) {
  return sql<ProductRow>`select ${PRODUCT_VIEW_COLUMNS}
    from products p left join inventory i on i.product_id = p.id
    where ${productWhere(search)}
    order by ${ORDER_BY[search.sort ?? 'createdAt,desc']}
    limit ${search.size} offset ${search.page * search.size}`;
}

/** GET /products: exactly two statements, the page and the count, run side by side. */
export async function searchProducts(
  ctx: AppContext,
  search: ProductSearch,
): Promise<{ items: ProductView[]; totalElements: number }> {
  const em = ctx.orm.em.fork();
  const [rows, [total]] = await Promise.all([
    query(em, productPageStatement(search)),
    query(em, productCountStatement(search)),
  ]);
  const threshold = ctx.config.lowStockThreshold;
  return { items: rows.map((row) => toProductView(row, threshold)), totalElements: total?.count ?? 0 };
}
