import { z } from '@hono/zod-openapi';
import type { ProductSort } from '../../catalog/product-search';
import { STOCK_STATUSES } from '../../catalog/product-view';
import { PRODUCT_STATUSES } from '../../db/schema/product.entity';
import { text } from '../../validation/text';
import { money, pagingQuery, queryInt, sortQuery } from './common';

export const MAX_PRICE = 1_000_000_000;
export const MAX_INITIAL_STOCK = 1_000_000;

export const ProductSchema = z
  .object({
    id: z.uuid(),
    sellerId: z.uuid(),
    name: z.string(),
    description: z.string(),
    price: z.number().int(),
    category: z.string(),
    brand: z.string(),
    status: z.enum(PRODUCT_STATUSES),
    stock: z.number().int(),
    reserved: z.number().int(),
    available: z.number().int(),
    stockStatus: z.enum(STOCK_STATUSES),
    rating: z.object({ average: z.number(), count: z.number().int() }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Product');

const name = text().trim().min(1).max(200);
const description = text().max(5000);
const category = text().trim().min(1).max(50);
const brand = text().trim().max(100);

export const NewProductBody = z
  .object({
    name,
    description: description.optional(),
    price: money(MAX_PRICE),
    category,
    brand: brand.optional(),
    initialStock: z.number().int().min(0).max(MAX_INITIAL_STOCK),
  })
  .openapi('NewProduct');

export const ProductChangesBody = z
  .object({
    name: name.optional(),
    description: description.optional(),
    price: money(MAX_PRICE).optional(),
    category: category.optional(),
    brand: brand.optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), {
    message: 'give at least one of name, description, price, category, brand',
  })
  .openapi('ProductChanges');

export const ProductStatusBody = z
  .object({ status: z.enum(PRODUCT_STATUSES) })
  .openapi('ProductStatusChange');

export const ProductListQuery = z
  .object({
    category: category.optional(),
    brand: text().trim().min(1).max(100).optional(),
    minPrice: queryInt(0, MAX_PRICE).optional().openapi({ type: 'integer' }),
    maxPrice: queryInt(0, MAX_PRICE).optional().openapi({ type: 'integer' }),
    keyword: text().trim().max(100).optional(),
    status: z.enum(PRODUCT_STATUSES).optional(),
    inStock: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional()
      .openapi({ type: 'boolean', description: 'true: only products with units available to order now' }),
    sort: sortQuery(['price', 'createdAt'], ['popular'])
      .openapi({ description: 'price,asc | price,desc | createdAt,desc (default) | createdAt,asc | popular' })
      // sortQuery admits exactly the PRODUCT_SORTS.
      .transform((v) => v as ProductSort | undefined),
    ...pagingQuery,
  })
  .refine((q) => q.minPrice === undefined || q.maxPrice === undefined || q.minPrice <= q.maxPrice, {
    path: ['minPrice'],
    message: 'must not be greater than maxPrice',
  });
