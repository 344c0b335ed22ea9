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

export type CacheLookup = { hit: true; view: ProductView } | { hit: false; generation: number };
type JsonLookup = { hit: true; json: string } | { hit: false; generation: number };

/** A product's entry and generation share a hash tag: one MGET reads both, on a cluster too. */
export const productCacheKeys = (ctx: AppContext, productId: string) => {
  const entry = entryKey(ctx, productId);
  return { entry, generation: `${entry}:gen` };
};
function entryKey(ctx: AppContext, productId: string): string {
  return ctx.key(hashTag('product', productId));
}
const generationKey = (ctx: AppContext, productId: string) => productCacheKeys(ctx, productId).generation;

// An entry is the JSON text `{"gen":<generation>,"view":<the view's JSON>}`, written only by
// storeCachedProduct, so a hit can hand the view's JSON on as it is: no parse and no stringify on
// the hot path.
const ENTRY_HEAD = '{"gen":';
const VIEW_FIELD = ',"view":';

function entryText(generation: number, viewJson: string): string {
  return `${ENTRY_HEAD}${generation}${VIEW_FIELD}${viewJson}}`;
}

/** The generation and the view's JSON of an entry, or undefined when it is not one of ours. */
function splitEntry(entry: string): { gen: number; viewJson: string } | undefined {
  if (!entry.startsWith(ENTRY_HEAD) || !entry.endsWith('}')) return undefined;
  const field = entry.indexOf(VIEW_FIELD, ENTRY_HEAD.length);
  if (field < 0) return undefined;
  const digits = entry.slice(ENTRY_HEAD.length, field);
  if (!/^\d+$/.test(digits)) return undefined;
  const viewJson = entry.slice(field + VIEW_FIELD.length, -1);
  return viewJson.startsWith('{') ? { gen: Number(digits), viewJson } : undefined;
}

/** One MGET of the entry and the generation; a hit only when the entry carries the current generation. */
async function lookupCachedProductJson(ctx: AppContext, productId: string): Promise<JsonLookup> {
  const { entry: key, generation: genKey } = productCacheKeys(ctx, productId);
  const [entry, gen] = await ctx.redis.mget(key, genKey);
  const generation = Number(gen ?? 0);
  const json = entry ? freshViewJson(entry, generation) : undefined;
  return json === undefined ? { hit: false, generation } : { hit: true, json };
}

/** The view's JSON of an entry stored under `generation`, or undefined (another generation, not ours). */
function freshViewJson(entry: string, generation: number): string | undefined {
  const cached = splitEntry(entry);
  return cached && cached.gen === generation ? cached.viewJson : undefined;
}

/**
 * The cached view's JSON text when the cache holds the current generation, else undefined (a miss, or
 * Redis unreachable): the caller then takes the full path (getCachedProductJson). The cached read's
 * lane calls it for every anonymous product read, so it is one MGET and one callback, no async layers.
 */
export function cachedProductJsonIfFresh(ctx: AppContext, productId: string): Promise<string | undefined> {
  const { entry: key, generation: genKey } = productCacheKeys(ctx, productId);
  return ctx.redis.mget(key, genKey).then(
    ([entry, gen]) => (entry ? freshViewJson(entry, Number(gen ?? 0)) : undefined),
    () => undefined,
  );
}

/** Like the cached JSON lookup, with the view parsed. */
export async function lookupCachedProduct(ctx: AppContext, productId: string): Promise<CacheLookup> {
  const lookup = await lookupCachedProductJson(ctx, productId);
  return lookup.hit ? { hit: true, view: JSON.parse(lookup.json) as ProductView } : lookup;
}

/** Stores a view read from the database, tagged with the generation seen before that read. */
export async function storeCachedProduct(ctx: AppContext, view: ProductView, generation: number) {
  await storeCachedJson(ctx, view.id, JSON.stringify(view), generation);
}

async function storeCachedJson(ctx: AppContext, productId: string, viewJson: string, generation: number) {
  const entry = entryText(generation, viewJson);
  await ctx.redis.set(entryKey(ctx, productId), entry, 'EX', ctx.config.productCacheTtlS);
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
 * The product's current view as JSON text: from the cache when it holds the current generation (as
 * stored, never parsed), otherwise from PostgreSQL (then cached). Undefined for an unknown id; misses
 * are not cached, because an unknown id costs one primary-key probe and a cached "absent" would need
 * invalidating on create.
 */
export async function getCachedProductJson(ctx: AppContext, productId: string): Promise<string | undefined> {
  let generation: number | undefined;
  try {
    const lookup = await lookupCachedProductJson(ctx, productId);
    if (lookup.hit) return lookup.json;
    generation = lookup.generation;
  } catch (error) {
    if (!isInfrastructureUnavailable(error)) throw error;
    ctx.log.warn({ err: String(error) }, 'product cache unavailable; reading from PostgreSQL');
  }
  const views = await loadProductViews(ctx.orm.em.fork(), [productId], ctx.config.lowStockThreshold);
  const view = views.get(productId);
  if (!view) return undefined;
  const json = JSON.stringify(view);
  if (generation !== undefined) {
    await storeCachedJson(ctx, productId, json, generation).catch((error: unknown) => {
      ctx.log.warn({ err: String(error) }, 'could not cache a product');
    });
  }
  return json;
}

/** The product's current view (see getCachedProductJson), parsed. */
export async function getCachedProductView(
  ctx: AppContext,
  productId: string,
): Promise<ProductView | undefined> {
  const json = await getCachedProductJson(ctx, productId);
  return json === undefined ? undefined : (JSON.parse(json) as ProductView);
}
