import { z } from '@hono/zod-openapi';
import { MAX_CART_QUANTITY } from '../../db/schema/cart-item.entity';
import { PRODUCT_STATUSES } from '../../db/schema/product.entity';
import { idInput } from './common';

const quantity = z
  .number()
  .int()
  .min(1)
  .max(MAX_CART_QUANTITY)
  .openapi({ description: `1 … ${MAX_CART_QUANTITY}`, example: 1 });

export const CartItemSchema = z
  .object({
    productId: z.uuid(),
    name: z.string().openapi({ description: 'the product’s current name' }),
    unitPrice: z.number().int().openapi({ description: 'the product’s current price, won' }),
    quantity: z.number().int(),
    lineTotal: z.number().int().openapi({ description: 'unitPrice × quantity' }),
    available: z.number().int().openapi({ description: 'stock − reserved, now' }),
    status: z.enum(PRODUCT_STATUSES).openapi({ description: 'only ON_SALE products can be ordered' }),
  })
  .openapi('CartItem');

export const CartSchema = z
  .object({
    items: z.array(CartItemSchema).openapi({ description: 'in the order they were added' }),
    subtotal: z.number().int(),
  })
  .openapi('Cart');

export const AddCartItemBody = z
  .object({
    productId: idInput(),
    quantity: quantity.openapi({
      description: `1 … ${MAX_CART_QUANTITY}; added to an existing line, which may not exceed ${MAX_CART_QUANTITY}`,
    }),
  })
  .openapi('CartItemAddition');

export const CartItemQuantityBody = z
  .object({
    quantity: quantity.openapi({ description: `1 … ${MAX_CART_QUANTITY}; DELETE the line to remove it` }),
  })
  .openapi('CartItemQuantity');
