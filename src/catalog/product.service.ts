import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import { Inventory } from '../db/schema/inventory.entity';
import { Product, type ProductStatus } from '../db/schema/product.entity';
import { DomainError } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import { type Actor, assertMayManage } from './ownership';
import { getCachedProductJson, getCachedProductView, invalidateProducts } from './product-cache';
import { loadProductViews, type ProductView } from './product-view';
import { closeStockCounter, openStockCounter } from './stock-gate';

export interface NewProduct {
  name: string;
  description?: string | undefined;
  price: number;
  category: string;
  brand?: string | undefined;
  initialStock: number;
}

export interface ProductChanges {
  name?: string | undefined;
  description?: string | undefined;
  price?: number | undefined;
  category?: string | undefined;
  brand?: string | undefined;
}

/** GET /products/{id} as the view's JSON text (served as cached, never re-serialized). */
export async function getProductJson(ctx: AppContext, productId: string): Promise<string> {
  const json = await getCachedProductJson(ctx, productId);
  if (json === undefined) throw new DomainError('PRODUCT_NOT_FOUND');
  return json;
}

/** One product's view: cache-aside, see product-cache.ts. */
export async function getProduct(ctx: AppContext, productId: string): Promise<ProductView> {
  const view = await getCachedProductView(ctx, productId);
  if (!view) throw new DomainError('PRODUCT_NOT_FOUND');
  return view;
}

/** Creates the product and its inventory row in one transaction; the actor becomes its seller. */
export async function createProduct(ctx: AppContext, actor: Actor, input: NewProduct): Promise<ProductView> {
  const em = ctx.orm.em.fork();
  const product = await em.transactional(async (tx) => {
    const created = tx.create(Product, {
      id: uuidv7(),
      sellerId: actor.id,
      name: input.name,
      description: input.description ?? '',
      price: input.price,
      category: input.category,
      brand: input.brand ?? '',
      status: 'ON_SALE',
    });
    tx.create(Inventory, { productId: created.id, stock: input.initialStock, reserved: 0, sold: 0 });
    return created;
  });
  await openStockCounter(ctx, product.id, input.initialStock).catch((err) =>
    ctx.log.warn({ err: String(err) }, 'stock gate counter not opened; the first order builds it'),
  );
  return mustLoad(ctx, em, product.id);
}

export async function updateProduct(
  ctx: AppContext,
  actor: Actor,
  productId: string,
  changes: ProductChanges,
): Promise<ProductView> {
  const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  return changeOwnedProduct(ctx, actor, productId, (product) => Object.assign(product, defined));
}

export async function changeProductStatus(
  ctx: AppContext,
  actor: Actor,
  productId: string,
  status: ProductStatus,
): Promise<ProductView> {
  const view = await changeOwnedProduct(ctx, actor, productId, (product) => {
    product.status = status;
  });
  if (status !== 'ON_SALE')
    await closeStockCounter(ctx, productId).catch((err) =>
      ctx.log.warn({ err: String(err) }, 'stock gate counter not closed; the worker refuses its orders'),
    );
  return view;
}

async function changeOwnedProduct(
  ctx: AppContext,
  actor: Actor,
  productId: string,
  change: (product: Product) => void,
): Promise<ProductView> {
  const em = ctx.orm.em.fork();
  const product = await em.findOne(Product, { id: productId });
  if (!product) throw new DomainError('PRODUCT_NOT_FOUND');
  assertMayManage(actor, product.sellerId);
  change(product);
  await em.flush();
  await invalidateProducts(ctx, [productId]);
  return mustLoad(ctx, em, productId);
}

async function mustLoad(ctx: AppContext, em: EntityManager, productId: string): Promise<ProductView> {
  const view = (await loadProductViews(em, [productId], ctx.config.lowStockThreshold)).get(productId);
  // Products are never deleted, so one we just wrote is there.
  if (!view) throw new DomainError('PRODUCT_NOT_FOUND');
  return view;
}
