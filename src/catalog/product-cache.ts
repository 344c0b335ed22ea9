import type { AppContext } from '../context';
import { isInfrastructureUnavailable } from '../errors/infrastructure-error';
import { hashTag } from '../messaging/redis';
import { loadProductViews, type ProductView } from './product-view';

/**
 * Cache-aside for product views, invalidated by a generation counter rather than by DEL.
 *
 * A plain "DEL after commit" loses a race: a reader that loaded the row before the writer committed
 * can SET its stale copy after the writer's DEL, and that copy then lives for a whole TTL. Here each
 * product has a generation (`product-gen:<id>`, no TTL, missing = 0) and the cached entry
 * (`product:<id>`) is stored tagged with the generation the reader saw *before* it read the database.
 * Invalidation is INCR of the generation, so a copy read before the commit carries an older
 * generation than the current one and is never served, whenever it was stored.
 *
 * Redis is an accelerator for reads, not their source of truth: if it is unreachable, reads go to
 * PostgreSQL (with a warning) instead of failing, and nothing is stored. Writes still fail with 503
 * when PostgreSQL is down, because that is where they go.
 */

interface CachedProduct {
  gen: number;
  view: ProductView;
}

export type CacheLookup = { hit: true; view: ProductView } | { hit: false; generation: number };

/** A product's entry and generation share a hash tag: one MGET reads both, on a cluster too. */
export const productCacheKeys = (ctx: AppContext, productId: string) => ({
  entry: ctx.key(hashTag('product', productId)),
  generation: ctx.key(hashTag('product', productId), 'gen'),
});
const entryKey = (ctx: AppContext, productId: string) => productCacheKeys(ctx, productId).entry;
const generationKey = (ctx: AppContext, productId: string) => productCacheKeys(ctx, productId).generation;

/** One MGET of the entry and the generation; a hit only when the entry carries the current generation. */
export async function lookupCachedProduct(ctx: AppContext, productId: string): Promise<CacheLookup> {
  const [entry, gen] = await ctx.redis.mget(entryKey(ctx, productId), generationKey(ctx, productId));
  const generation = Number(gen ?? 0);
  if (entry) {
    const cached = parseEntry(entry);
    if (cached && cached.gen === generation) return { hit: true, view: cached.view };
  }
  return { hit: false, generation };
}

/** Stores a view read from the database, tagged with the generation seen before that read. */
export async function storeCachedProduct(ctx: AppContext, view: ProductView, generation: number) {
  const entry: CachedProduct = { gen: generation, view };
  await ctx.redis.set(entryKey(ctx, view.id), JSON.stringify(entry), 'EX', ctx.config.productCacheTtlS);
}

/**
 * Makes every cached copy of these products stale (one pipeline of INCRs). Call it after the
 * transaction that changed a product or its stock has committed.
 *
 * It never rejects: the change is already committed, so failing the caller would misreport it. If
 * Redis is unreachable it logs a warning and keeps retrying every second in the background until
 * the entries would have expired anyway (PRODUCT_CACHE_TTL_S); meanwhile reads that cannot reach
 * Redis come from PostgreSQL.
 */
export async function invalidateProducts(ctx: AppContext, productIds: string[]): Promise<void> {
  const ids = [...new Set(productIds)];
  if (ids.length === 0) return;
  try {
    await bumpGenerations(ctx, ids);
  } catch (error) {
    ctx.log.warn({ err: String(error), productIds: ids }, 'could not invalidate cached products');
    retryInvalidation(ctx, ids, Date.now() + ctx.config.productCacheTtlS * 1000);
  }
}

/**
 * One INCR per product, sent together: the command connection pipelines them automatically (per
 * node on a cluster, where the products' keys live in different slots). A retry bumps some twice,
 * which only costs a cache miss.
 */
async function bumpGenerations(ctx: AppContext, ids: string[]) {
  await Promise.all(ids.map((id) => ctx.redis.incr(generationKey(ctx, id))));
}

const INVALIDATION_RETRY_MS = 1000;

function retryInvalidation(ctx: AppContext, ids: string[], deadline: number) {
  const timer = setTimeout(() => {
    bumpGenerations(ctx, ids).then(
      () => ctx.log.info({ productIds: ids }, 'invalidated cached products after a Redis outage'),
      () => {
        if (Date.now() + INVALIDATION_RETRY_MS < deadline) retryInvalidation(ctx, ids, deadline);
      },
    );
  }, INVALIDATION_RETRY_MS);
  // Never keeps a shutting-down process alive: past the TTL there is nothing left to invalidate.
  timer.unref();
}

/**
 * The product's current view: from the cache when it holds the current generation, otherwise from
 * PostgreSQL (then cached). Undefined for an unknown id; misses are not cached, because an unknown
 * id costs one primary-key probe and a cached "absent" would need invalidating on create.
 */
export async function getCachedProductView(
  ctx: AppContext,
  productId: string,
): Promise<ProductView | undefined> {
  let generation: number | undefined;
  try {
    const lookup = await lookupCachedProduct(ctx, productId);
    if (lookup.hit) return lookup.view;
    generation = lookup.generation;
  } catch (error) {
    if (!isInfrastructureUnavailable(error)) throw error;
    ctx.log.warn({ err: String(error) }, 'product cache unavailable; reading from PostgreSQL');
  }
  const views = await loadProductViews(ctx.orm.em.fork(), [productId], ctx.config.lowStockThreshold);
  const view = views.get(productId);
  if (view && generation !== undefined) {
    await storeCachedProduct(ctx, view, generation).catch((error: unknown) => {
      ctx.log.warn({ err: String(error) }, 'could not cache a product');
    });
  }
  return view;
}

function parseEntry(raw: string): CachedProduct | undefined {
  try {
    const parsed = JSON.parse(raw) as CachedProduct;
    return typeof parsed?.gen === 'number' && parsed.view ? parsed : undefined;
  } catch {
    return undefined;
  }
}
