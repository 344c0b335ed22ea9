import { defineEntity, p } from '@mikro-orm/postgresql';
import { Product } from './product.entity';
import { User } from './user.entity';

export const MAX_CART_QUANTITY = 999;

/** One line of a user's cart; a user's cart is the set of their lines (one line per product). */
export const CartItemSchema = defineEntity({
  name: 'CartItem',
  tableName: 'cart_items',
  properties: {
    userId: () => p.manyToOne(User).mapToPk().fieldName('user_id').primary(),
    productId: () => p.manyToOne(Product).mapToPk().fieldName('product_id').primary().index(),
    quantity: p.integer(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  checks: [
    { name: 'cart_items_quantity_range', expression: `quantity >= 1 and quantity <= ${MAX_CART_QUANTITY}` },
  ],
});
export class CartItem extends CartItemSchema.class {}
CartItemSchema.setClass(CartItem);
