import { defineEntity, p } from '@mikro-orm/postgresql';
import { uuidv7 } from '../../ids';
import { User } from './user.entity';

export const PRODUCT_STATUSES = ['ON_SALE', 'SOLD_OUT', 'DISCONTINUED'] as const;
export type ProductStatus = (typeof PRODUCT_STATUSES)[number];

/** The product as it is now. Orders copy what they need, so changing a product never rewrites the past. */
export const ProductSchema = defineEntity({
  name: 'Product',
  tableName: 'products',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    sellerId: () => p.manyToOne(User).mapToPk().fieldName('seller_id').index(),
    name: p.string().length(200),
    description: p.text().default(''),
    price: p.integer(),
    category: p.string().length(50),
    brand: p.string().length(100).default(''),
    status: p.enum(PRODUCT_STATUSES).default('ON_SALE'),
    ratingCount: p.integer().default(0),
    ratingSum: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [
    { name: 'products_status_created_at_index', properties: ['status', 'createdAt'] },
    { name: 'products_category_created_at_index', properties: ['category', 'createdAt'] },
    { name: 'products_brand_created_at_index', properties: ['brand', 'createdAt'] },
    { name: 'products_price_index', properties: ['price'] },
    { name: 'products_created_at_index', properties: ['createdAt'] },
    {
      name: 'products_name_trgm_index',
      expression: 'create index "products_name_trgm_index" on "products" using gin ("name" gin_trgm_ops)',
    },
    {
      name: 'products_brand_trgm_index',
      expression: 'create index "products_brand_trgm_index" on "products" using gin ("brand" gin_trgm_ops)',
    },
  ],
  checks: [
    { name: 'products_price_non_negative', expression: 'price >= 0' },
    { name: 'products_rating_sane', expression: 'rating_count >= 0 and rating_sum >= 0' },
  ],
});
export class Product extends ProductSchema.class {}
ProductSchema.setClass(Product);
