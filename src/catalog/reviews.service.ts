import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuthUser } from '../auth/auth-user';
import type { AppContext } from '../context';
import { db } from '../db/database';
import { isUniqueViolation } from '../db/errors';
import { asDate, run, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import { orderTagged } from '../orders/order-tags';
import { NEWEST_FIRST, type PageRequest, pageMeta, type SortRequest } from '../paging';
import { invalidateProducts } from './product-cache';

export interface ReviewView {
  id: string;
  productId: string;
  userId: string;
  orderItemId: string;
  rating: number;
  comment: string | null;
  createdAt: string;
}

/**
 * A buyer reviews an item they bought (its order PAID or CONFIRMED), once per order line; the
 * product's rating summary changes in the same transaction.
 */
export async function addReview(
  ctx: AppContext,
  user: AuthUser,
  productId: string,
  input: { rating: number; comment?: string | undefined },
): Promise<ReviewView> {
  const review = await ctx.orm.em
    .fork()
    .transactional(async (tx) => {
      if (!(await productExists(tx, productId))) throw new DomainError('PRODUCT_NOT_FOUND');
      const item = await db(tx)
        .selectFrom('order_items as oi')
        .innerJoin('orders as o', 'o.id', 'oi.order_id')
        .select('oi.id')
        .where('oi.product_id', '=', productId)
        .where('o.user_id', '=', user.id)
        .where(sql<boolean>`${orderTagged('counts-as-sale')}`)
        // A purchase refunded in full no longer stands (its reviews were withdrawn with the refund).
        .where(sql<boolean>`o.refunded_amount < o.total`)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('reviews as r')
                .select(sql.lit(1).as('one'))
                .whereRef('r.order_item_id', '=', 'oi.id'),
            ),
          ),
        )
        .orderBy('o.created_at')
        .limit(1)
        // Held until this review commits: a cancel or full refund of the order waits, then withdraws it.
        .forShare('o')
        .executeTakeFirst();
      if (!item) {
        throw new DomainError('FORBIDDEN', {
          en: 'Only a buyer with a paid order for this product may review it, once per purchase',
          ko: '이 상품을 결제한 구매자만 구매 한 건당 한 번 리뷰를 작성할 수 있습니다',
        });
      }
      const id = uuidv7();
      const now = new Date();
      await run(
        tx,
        sql`insert into reviews (id, product_id, user_id, order_item_id, rating, comment, created_at)
          values (${id}, ${productId}, ${user.id}, ${item.id}, ${input.rating}, ${input.comment ?? null}, ${now})`,
      );
      await run(
        tx,
        sql`update products set rating_count = rating_count + 1, rating_sum = rating_sum + ${input.rating}
          where id = ${productId}`,
      );
      return {
        id,
        productId,
        userId: user.id,
        orderItemId: item.id,
        rating: input.rating,
        comment: input.comment ?? null,
        createdAt: now.toISOString(),
      };
    })
    .catch((error) => {
      // Two reviews of the same purchase at once: the second loses the unique order line.
      if (isUniqueViolation(error, 'reviews_order_item_id_unique')) {
        throw new DomainError('FORBIDDEN', {
          en: 'This purchase has already been reviewed',
          ko: '이미 리뷰를 작성한 구매입니다',
        });
      }
      throw error;
    });
  await invalidateProducts(ctx, [productId]);
  return review;
}

async function productExists(em: EntityManager, productId: string): Promise<boolean> {
  const product = await db(em)
    .selectFrom('products')
    .select('id')
    .where('id', '=', productId)
    .executeTakeFirst();
  return product !== undefined;
}

/** What `GET /products/{id}/reviews?sort=` may order by (the API's names), and their columns. */
export const REVIEW_SORT_FIELDS = ['createdAt', 'rating'] as const;
export type ReviewSortField = (typeof REVIEW_SORT_FIELDS)[number];
const REVIEW_SORT_COLUMNS = { createdAt: 'created_at', rating: 'rating' } as const satisfies Record<
  ReviewSortField,
  string
>;

/** A product's reviews, newest first unless `sort` says otherwise (id breaks ties the same way). */
export async function listReviews(
  ctx: AppContext,
  productId: string,
  page: PageRequest & { sort?: SortRequest<ReviewSortField> | undefined },
) {
  const em = ctx.orm.em.fork();
  const sort = page.sort ?? NEWEST_FIRST;
  if (!(await productExists(em, productId))) throw new DomainError('PRODUCT_NOT_FOUND');
  const [rows, count] = await Promise.all([
    db(em)
      .selectFrom('reviews')
      .select(['id', 'product_id', 'user_id', 'order_item_id', 'rating', 'comment', 'created_at'])
      .where('product_id', '=', productId)
      .orderBy(REVIEW_SORT_COLUMNS[sort.field], sort.direction)
      .orderBy('id', sort.direction)
      .limit(page.size)
      .offset(page.page * page.size)
      .execute(),
    db(em)
      .selectFrom('reviews')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('product_id', '=', productId)
      .executeTakeFirstOrThrow(),
  ]);
  return {
    data: rows.map((r) => ({
      id: r.id,
      productId: r.product_id,
      userId: r.user_id,
      orderItemId: r.order_item_id,
      rating: r.rating,
      comment: r.comment,
      createdAt: asDate(r.created_at).toISOString(),
    })),
    meta: pageMeta(page, count.n),
  };
}
