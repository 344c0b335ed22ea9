import { query, sql } from '../../src/db/sql';
import type { TestShop, TestUser } from './test-shop';

/** Creates a product through the API (so it is real in every way) and returns its id. */
export async function createProduct(
  shop: TestShop,
  seller: TestUser,
  fields: { price?: number; stock?: number; name?: string; category?: string; brand?: string } = {},
): Promise<string> {
  const res = await shop.request('POST', '/api/v1/products', {
    token: seller.token,
    body: {
      name: fields.name ?? `Product ${Math.random().toString(36).slice(2, 8)}`,
      price: fields.price ?? 10_000,
      category: fields.category ?? 'test',
      brand: fields.brand ?? 'Brand',
      initialStock: fields.stock ?? 100,
    },
  });
  if (res.status !== 201) throw new Error(`product not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.id;
}

export async function inventoryOf(shop: TestShop, productId: string) {
  const res = await shop.request('GET', `/api/v1/inventory/${productId}`);
  return res.body.data as { stock: number; reserved: number; available: number };
}

/** Units of a product in PENDING orders (what its `reserved` must equal when nothing else holds it). */
export async function unitsInPendingOrders(shop: TestShop, productId: string): Promise<number> {
  const [row] = await query<{ units: number }>(
    shop.ctx.orm.em.fork(),
    sql`select coalesce(sum(oi.quantity), 0)::int as units from order_items oi join orders o on o.id = oi.order_id
        where oi.product_id = ${productId} and o.status = 'PENDING'`,
  );
  return row!.units;
}
