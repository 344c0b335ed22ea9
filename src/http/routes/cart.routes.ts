import { createRoute } from '@hono/zod-openapi';
import {
  addCartItem,
  clearCart,
  getCart,
  removeCartItem,
  setCartItemQuantity,
} from '../../cart/cart.service';
import type { AppContext } from '../../context';
import { dataEnvelope } from '../envelope';
import { currentUser, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { AddCartItemBody, CartItemQuantityBody, CartSchema } from '../schemas/cart.schemas';
import { productIdParam } from '../schemas/common';

const cartResponse = (description: string) => jsonContent(dataEnvelope(CartSchema), description);

const read = createRoute({
  tags: ['Cart'],
  security: bearerSecurity,
  middleware: [requireUser] as const,
  method: 'get',
  path: '/',
  summary: 'The caller’s cart, at current prices',
  responses: { 200: cartResponse('The cart'), ...errorResponses('UNAUTHORIZED') },
});

const add = createRoute({
  tags: ['Cart'],
  security: bearerSecurity,
  middleware: [requireUser] as const,
  method: 'post',
  path: '/items',
  summary: 'Add units of a product (merged into an existing line)',
  request: jsonBody(AddCartItemBody),
  responses: {
    201: cartResponse('The cart with the line added'),
    ...errorResponses(
      'UNAUTHORIZED',
      'CART_ITEM_INVALID',
      'PRODUCT_NOT_FOUND',
      'PRODUCT_NOT_AVAILABLE',
      'PAYLOAD_TOO_LARGE',
    ),
  },
});

const setQuantity = createRoute({
  tags: ['Cart'],
  security: bearerSecurity,
  middleware: [requireUser] as const,
  method: 'patch',
  path: '/items/{productId}',
  summary: 'Set the quantity of a line',
  request: { params: productIdParam, ...jsonBody(CartItemQuantityBody) },
  responses: {
    200: cartResponse('The cart'),
    ...errorResponses('UNAUTHORIZED', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE'),
  },
});

const removeLine = createRoute({
  tags: ['Cart'],
  security: bearerSecurity,
  middleware: [requireUser] as const,
  method: 'delete',
  path: '/items/{productId}',
  summary: 'Remove a line',
  request: { params: productIdParam },
  responses: { 200: cartResponse('The cart'), ...errorResponses('UNAUTHORIZED', 'NOT_FOUND') },
});

const clear = createRoute({
  tags: ['Cart'],
  security: bearerSecurity,
  middleware: [requireUser] as const,
  method: 'delete',
  path: '/',
  summary: 'Empty the cart',
  responses: { 200: cartResponse('The empty cart'), ...errorResponses('UNAUTHORIZED') },
});

/** Mounted at /cart. Every route acts on the caller's own lines only. */
export function cartRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(read, async (c) => c.json({ data: await getCart(ctx, currentUser(c).id) }, 200))
    .openapi(add, async (c) => {
      const { productId, quantity } = c.req.valid('json');
      return c.json({ data: await addCartItem(ctx, currentUser(c).id, productId, quantity) }, 201);
    })
    .openapi(setQuantity, async (c) => {
      const { productId } = c.req.valid('param');
      const { quantity } = c.req.valid('json');
      return c.json({ data: await setCartItemQuantity(ctx, currentUser(c).id, productId, quantity) }, 200);
    })
    .openapi(removeLine, async (c) => {
      const data = await removeCartItem(ctx, currentUser(c).id, c.req.valid('param').productId);
      return c.json({ data }, 200);
    })
    .openapi(clear, async (c) => c.json({ data: await clearCart(ctx, currentUser(c).id) }, 200));
}
