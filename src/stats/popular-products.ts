import { loadProductViews, type ProductView } from '../catalog/product-view';
import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { query, sql } from '../db/sql';
import { isInfrastructureUnavailable } from '../errors/infrastructure-error';
import { hashTag } from '../messaging/redis';

export interface PopularProduct {
  product: ProductView;
  unitsSold: number;
}

interface Ranking {
  /** The sales generation seen before the ranking was read from PostgreSQL. */
  gen: number;
  computedAt: number;
  items: { productId: string; unitsSold: number }[];
}

/**
 * Under a steady stream of sales the ranking would be invalidated by nearly every payment; it is then
 * recomputed at most this often, so it is never more than this much behind (and never longer than
 * POPULAR_CACHE_TTL_S when nothing sells).
 */
export const POPULAR_MIN_REFRESH_MS = 1000;

// One hash tag for every ranking and the generation: one MGET reads a ranking with it.
const rankingKey = (ctx: AppContext, days: number, limit: number) => ctx.key(hashTag('popular'), days, limit);
const generationKey = (ctx: AppContext) => ctx.key(hashTag('popular'), 'gen');
const inFlight = new Map<string, Promise<Ranking['items']>>();

/**
 * Top products by units sold in PAID/CONFIRMED orders paid in the last `days` (rolling), from the
 * sales statistics. The ranking is cached in Redis (TTL POPULAR_CACHE_TTL_S, tagged with the sales
 * generation); product views are always current. Redis down → computed from PostgreSQL.
 */
export async function popularProducts(
  ctx: AppContext,
  days: number,
  limit: number,
): Promise<PopularProduct[]> {
  const items = await cachedRanking(ctx, days, limit);
  const views = await loadProductViews(
    ctx.orm.em.fork(),
    items.map((i) => i.productId),
    ctx.config.lowStockThreshold,
  );
  return items.flatMap((i) => {
    const product = views.get(i.productId);
    return product ? [{ product, unitsSold: i.unitsSold }] : [];
  });
}

async function cachedRanking(ctx: AppContext, days: number, limit: number): Promise<Ranking['items']> {
  const key = rankingKey(ctx, days, limit);
  let generation: number | undefined;
  try {
    const [entry, gen] = await ctx.redis.mget(key, generationKey(ctx));
    generation = Number(gen ?? 0);
    const cached = entry ? parse(entry) : undefined;
    if (cached && (cached.gen === generation || Date.now() - cached.computedAt < POPULAR_MIN_REFRESH_MS)) {
      return cached.items;
    }
  } catch (error) {
    if (!isInfrastructureUnavailable(error)) throw error;
    ctx.log.warn({ err: String(error) }, 'popular cache unavailable; reading from PostgreSQL');
  }
  // One recomputation per process at a time; concurrent readers share it.
  let pending = inFlight.get(key);
  if (!pending) {
    pending = computeAndStore(ctx, key, days, limit, generation).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

async function computeAndStore(
  ctx: AppContext,
  key: string,
  days: number,
  limit: number,
  generation: number | undefined,
): Promise<Ranking['items']> {
  const computedAt = Date.now();
  const items = await rankProducts(ctx, days, limit);
  if (generation !== undefined) {
    const entry: Ranking = { gen: generation, computedAt, items };
    await ctx.redis
      .set(key, JSON.stringify(entry), 'EX', ctx.config.popularCacheTtlS)
      .catch((error: unknown) => ctx.log.warn({ err: String(error) }, 'could not cache the popular ranking'));
  }
  return items;
}

async function rankProducts(ctx: AppContext, days: number, limit: number) {
  const rows = await query<Row<'sales_lines', 'product_id'> & { units: number }>(
    ctx.orm.em.fork(),
    sql`select product_id, sum(units)::int as units from sales_lines
        where paid_at >= now() - make_interval(days => ${days})
        group by product_id order by units desc, product_id limit ${limit}`,
  );
  return rows.map((r) => ({ productId: r.product_id, unitsSold: r.units }));
}

/**
 * Marks every cached ranking stale (one INCR). The statistics consumer calls it after a commit that
 * changed sales; it never rejects (the TTL bounds staleness if Redis is away).
 */
export async function invalidatePopularProducts(ctx: AppContext): Promise<void> {
  await ctx.redis.incr(generationKey(ctx)).catch((error: unknown) => {
    ctx.log.warn({ err: String(error) }, 'could not invalidate the popular ranking');
  });
}

function parse(raw: string): Ranking | undefined {
  try {
    const value = JSON.parse(raw) as Ranking;
    return typeof value?.gen === 'number' && Array.isArray(value.items) ? value : undefined;
  } catch {
    return undefined;
  }
}
