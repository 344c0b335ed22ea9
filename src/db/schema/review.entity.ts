import { defineEntity, p } from '@mikro-orm/postgresql';
import { uuidv7 } from '../../ids';
import { OrderItem } from './order-item.entity';
import { Product } from './product.entity';
import { User } from './user.entity';

/** A buyer's review of one bought item (one review per order line); feeds the product's rating. */
export const ReviewSchema = defineEntity({
  name: 'Review',
  tableName: 'reviews',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    productId: () => p.manyToOne(Product).mapToPk().fieldName('product_id'),
    userId: () => p.manyToOne(User).mapToPk().fieldName('user_id'),
    orderItemId: () => p.manyToOne(OrderItem).mapToPk().fieldName('order_item_id').unique(),
    rating: p.smallint(),
    comment: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  indexes: [{ name: 'reviews_product_created_index', properties: ['productId', 'createdAt'] }],
  checks: [{ name: 'reviews_rating_range', expression: 'rating >= 1 and rating <= 5' }],
});
export class Review extends ReviewSchema.class {}
ReviewSchema.setClass(Review);
