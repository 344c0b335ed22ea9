import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productCountStatement } from '../../src/catalog/product-search';
import { DEMO_BUYER, DEMO_SELLER, seedDemoCatalogIfEmpty } from '../../src/db/seed/demo-catalog';
import { query, sql } from '../../src/db/sql';
import { createTestShop, type TestShop } from '../support/test-shop';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop();
});
afterAll(() => shop?.close());

const one = async <T>(statement: ReturnType<typeof sql<T>>) =>
  (await query(shop.ctx.orm.em.fork(), statement))[0]!;

async function catalogStats() {
  return one(sql<{
    products: number;
    inventories: number;
    categories: number;
    brands: number;
    sellers: number;
  }>`
    select count(*)::int as products, count(i.product_id)::int as inventories,
           count(distinct p.category)::int as categories, count(distinct p.brand)::int as brands,
           count(distinct p.seller_id)::int as sellers
    from products p left join inventory i on i.product_id = p.id`);
}

describe('the demo catalog seed', () => {
  it('loads at least 1,000 products across 10+ categories and many brands, each with inventory', async () => {
    expect(await seedDemoCatalogIfEmpty(shop.ctx)).toBe(true);
    const stats = await catalogStats();
    expect(stats.products).toBeGreaterThanOrEqual(1000);
    expect(stats.inventories).toBe(stats.products);
    expect(stats.categories).toBeGreaterThanOrEqual(10);
    expect(stats.brands).toBeGreaterThanOrEqual(30);
    expect(stats.sellers).toBe(1);
    const invalid = await one(sql<{ count: number }>`
      select count(*)::int as count from products p join inventory i on i.product_id = p.id
      where p.price < 0 or i.stock < 0 or i.reserved <> 0 or p.status <> 'ON_SALE' or p.name = ''`);
    expect(invalid.count).toBe(0);
  });

  it('creates the demo seller, who owns the catalog, and the demo buyer, both able to log in', async () => {
    for (const [account, role] of [
      [DEMO_SELLER, 'SELLER'],
      [DEMO_BUYER, 'BUYER'],
    ] as const) {
      const res = await shop.request('POST', '/api/v1/auth/login', {
        body: { email: account.email, password: account.password },
      });
      expect(res.status).toBe(200);
      expect(res.body.data.user.role).toBe(role);
      if (role === 'SELLER') {
        const owned = await one(sql<{ count: number }>`
          select count(*)::int as count from products where seller_id = ${res.body.data.user.id}`);
        expect(owned.count).toBe((await catalogStats()).products);
      }
    }
  });

  it('is a no-op the second time', async () => {
    const before = await catalogStats();
    const users = await one(sql<{ count: number }>`select count(*)::int as count from users`);
    expect(await seedDemoCatalogIfEmpty(shop.ctx)).toBe(false);
    expect(await catalogStats()).toEqual(before);
    expect(await one(sql<{ count: number }>`select count(*)::int as count from users`)).toEqual(users);
  });

  it('is searchable through the API: category filter, keyword and paging agree with the database', async () => {
    const electronics = await one(
      sql<{ count: number }>`select count(*)::int as count from products where category = 'electronics'`,
    );
    const res = await shop.request('GET', '/api/v1/products?category=electronics&size=100&sort=price,asc');
    expect(res.status).toBe(200);
    expect(res.body.meta.totalElements).toBe(electronics.count);
    expect(res.body.data).toHaveLength(Math.min(100, electronics.count));
    const prices = res.body.data.map((p: { price: number }) => p.price);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    const lego = await shop.request('GET', '/api/v1/products?keyword=lEgO&size=5');
    expect(lego.body.meta.totalElements).toBeGreaterThan(0);
    for (const p of lego.body.data) expect(`${p.name} ${p.brand}`.toLowerCase()).toContain('lego');
  });

  it('serves keyword searches from the pg_trgm indexes on name and brand', async () => {
    const plan = await shop.ctx.orm.em.fork().transactional(async (em) => {
      // On a table this small the planner prefers a sequential scan; forbid it to see that the indexes apply.
      await query(em, sql`set local enable_seqscan = off`);
      const rows = await query<{ 'QUERY PLAN': string }>(
        em,
        sql`explain ${productCountStatement({ keyword: 'runner' })}`,
      );
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    // The count must visit every match, so it shows the index use. (A page may instead walk the
    // sort order's index and stop at LIMIT, which is the planner's call.)
    expect(plan).toContain('products_name_trgm_index');
    expect(plan).toContain('products_brand_trgm_index');
  });
});
