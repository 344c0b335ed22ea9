import type { EntityManager } from '@mikro-orm/postgresql';
import type { ProductStatus } from '../db/schema/product.entity';
import { query, sql } from '../db/sql';

export const STOCK_STATUSES = ['AVAILABLE', 'LOW_STOCK', 'OUT_OF_STOCK'] as const;
export type StockStatus = (typeof STOCK_STATUSES)[number];

/** A product as API.md shows it: the product row, its stock and its rating summary. */
export interface ProductView {
  id: string;
  sellerId: string;
  name: string;
  description: string;
  price: number;
  category: string;
  brand: string;
  status: ProductStatus;
  stock: number;
  reserved: number;
  available: number;
  stockStatus: StockStatus;
  rating: { average: number; count: number };
  createdAt: string;
  updatedAt: string;
}

/** One row of {@link PRODUCT_VIEW_COLUMNS}: products joined with inventory, before the view's figures. */
export type ProductRow = Omit<ProductView, 'available' | 'stockStatus' | 'rating'> & {
  ratingCount: number;
  ratingSum: number;
};

// The driver hands timestamptz back as PostgreSQL text; format it as ISO-8601 UTC in SQL instead.
const iso = (column: string) =>
  sql.raw(`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

/** Select list for `products p left join inventory i on i.product_id = p.id`. */
export const PRODUCT_VIEW_COLUMNS = sql`p.id, p.seller_id as "sellerId", p.name, p.description, p.price,
  p.category, p.brand, p.status, coalesce(i.stock, 0) as stock, coalesce(i.reserved, 0) as reserved,
  p.rating_count as "ratingCount", p.rating_sum as "ratingSum",
  ${iso('p.created_at')} as "createdAt", ${iso('p.updated_at')} as "updatedAt"`;

export function stockStatusOf(available: number, lowStockThreshold: number): StockStatus {
  if (available <= 0) return 'OUT_OF_STOCK';
  return available <= lowStockThreshold ? 'LOW_STOCK' : 'AVAILABLE';
}

export function ratingOf(ratingSum: number, ratingCount: number) {
  const average = ratingCount > 0 ? Math.round((ratingSum / ratingCount) * 10) / 10 : 0;
  return { average, count: ratingCount };
}

export function toProductView(row: ProductRow, lowStockThreshold: number): ProductView {
  const available = row.stock - row.reserved;
  return {
    id: row.id,
    sellerId: row.sellerId,
    name: row.name,
    description: row.description,
    price: row.price,
    category: row.category,
    brand: row.brand,
    status: row.status,
    stock: row.stock,
    reserved: row.reserved,
    available,
    stockStatus: stockStatusOf(available, lowStockThreshold),
    rating: ratingOf(row.ratingSum, row.ratingCount),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * Current views of the given products, straight from PostgreSQL in one statement (inside `em`'s
 * transaction if it has one). Unknown ids are simply absent from the map.
 */
export async function loadProductViews(
  em: EntityManager,
  productIds: readonly string[],
  lowStockThreshold: number,
): Promise<Map<string, ProductView>> {
  if (productIds.length === 0) return new Map();
  const rows = await query<ProductRow>(
    em,
    sql`select ${PRODUCT_VIEW_COLUMNS}
        from products p left join inventory i on i.product_id = p.id
        where p.id = any(${[...productIds]}::uuid[])`,
  );
  return new Map(rows.map((row) => [row.id, toProductView(row, lowStockThreshold)]));
}
