import type { AppContext } from '../../context';
import { uuidv7 } from '../../ids';
import { User } from '../schema/user.entity';
import { run, sql } from '../sql';

export const DEMO_SELLER = { email: 'seller@shop.local', password: 'seller-password', name: 'Demo Seller' };
export const DEMO_BUYER = { email: 'buyer@shop.local', password: 'buyer-password', name: 'Demo Buyer' };
export const DEMO_PRODUCT_COUNT = 1200;

const CATALOG: Record<string, { brands: string[]; nouns: string[]; price: [number, number] }> = {
  sneakers: {
    brands: ['Nike', 'Adidas', 'New Balance', 'Asics', 'Puma'],
    nouns: ['Runner', 'Court Low', 'Trail High', 'Retro 90', 'Slip-on'],
    price: [59_000, 329_000],
  },
  apparel: {
    brands: ['Uniqlo', 'Musinsa Standard', 'Patagonia', 'Zara'],
    nouns: ['Hoodie', 'Tee', 'Chino Pants', 'Down Jacket', 'Cardigan'],
    price: [9_900, 289_000],
  },
  electronics: {
    brands: ['Samsung', 'LG', 'Apple', 'Sony', 'Anker'],
    nouns: ['Earbuds', 'Monitor 27"', 'Charger 65W', 'Keyboard', 'Smartwatch'],
    price: [19_000, 1_890_000],
  },
  books: {
    brands: ['Minumsa', 'Changbi', "O'Reilly", 'Penguin'],
    nouns: ['Novel', 'Essay Collection', 'Cookbook', 'Field Guide', 'Programming Handbook'],
    price: [9_800, 54_000],
  },
  pet: {
    brands: ['Royal Canin', 'Orijen', 'Catit', 'Kong'],
    nouns: ['Dry Food 2kg', 'Cat Tower', 'Chew Toy', 'Litter 10L', 'Harness'],
    price: [4_900, 189_000],
  },
  home: {
    brands: ['IKEA', 'Hanssem', 'Muji', 'Dyson'],
    nouns: ['Desk Lamp', 'Storage Box', 'Air Purifier', 'Bedding Set', 'Mug'],
    price: [3_900, 899_000],
  },
  beauty: {
    brands: ['Innisfree', 'Sulwhasoo', 'Laneige', 'Cosrx'],
    nouns: ['Toner', 'Sunscreen', 'Lip Mask', 'Serum', 'Cleansing Foam'],
    price: [8_000, 240_000],
  },
  sports: {
    brands: ['Yonex', 'Wilson', 'Decathlon', 'Garmin'],
    nouns: ['Racket', 'Yoga Mat', 'Dumbbell 5kg', 'Tent', 'Cycling Computer'],
    price: [12_000, 690_000],
  },
  food: {
    brands: ['CJ', 'Nongshim', 'Ottogi', 'Pulmuone'],
    nouns: ['Ramen Pack', 'Kimchi 1kg', 'Rice 10kg', 'Coffee Beans', 'Snack Box'],
    price: [3_500, 59_000],
  },
  toys: {
    brands: ['LEGO', 'Bandai', 'Hasbro', 'Mattel'],
    nouns: ['Building Set', 'Puzzle 1000', 'Board Game', 'Action Figure', 'RC Car'],
    price: [9_900, 459_000],
  },
};
const EDITIONS = [
  'Classic',
  'Pro',
  'Lite',
  'Max',
  'Mini',
  'Plus',
  'Essential',
  'Limited',
  'Eco',
  'Air',
  'Prime',
  'Studio',
];

/** A tiny deterministic PRNG, so every fresh demo shop has the same catalog. */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function demoProducts(count = DEMO_PRODUCT_COUNT) {
  const random = mulberry32(20261121);
  const categories = Object.keys(CATALOG);
  return Array.from({ length: count }, (_, i) => {
    const category = categories[i % categories.length]!;
    const { brands, nouns, price } = CATALOG[category]!;
    const brand = brands[Math.floor(random() * brands.length)]!;
    const noun = nouns[Math.floor(random() * nouns.length)]!;
    const edition = EDITIONS[Math.floor(random() * EDITIONS.length)]!;
    const rawPrice = price[0] + random() * (price[1] - price[0]);
    return {
      name: `${brand} ${noun} ${edition} ${Math.floor(i / categories.length) + 1}`,
      description: `${edition} edition ${noun.toLowerCase()} by ${brand}.`,
      category,
      brand,
      price: Math.round(rawPrice / 100) * 100,
      stock: Math.floor(random() * 200),
    };
  });
}

async function ensureAccount(ctx: AppContext, account: typeof DEMO_BUYER, role: 'BUYER' | 'SELLER') {
  const em = ctx.orm.em.fork();
  const existing = await em.findOne(User, { email: account.email });
  if (existing) return existing.id;
  const user = em.create(User, {
    email: account.email,
    name: account.name,
    role,
    passwordHash: await ctx.passwords.hash(account.password),
    businessNumber: role === 'SELLER' ? '123-45-67890' : null,
  });
  await em.flush();
  return user.id;
}

/**
 * The demo shop: a seller, a buyer and {@link DEMO_PRODUCT_COUNT} products with stock across ten
 * categories. Loaded once; a database that already has products is left alone. Never in production:
 * the demo accounts' passwords are public (config refuses SEED_DEMO=true there; this is the backstop).
 */
export async function seedDemoCatalogIfEmpty(ctx: AppContext): Promise<boolean> {
  if (ctx.config.isProduction)
    throw new Error('the demo catalog is never seeded in production: its accounts have public passwords');
  const sellerId = await ensureAccount(ctx, DEMO_SELLER, 'SELLER');
  await ensureAccount(ctx, DEMO_BUYER, 'BUYER');
  const [row] = await ctx.orm.em
    .fork()
    .execute<{ count: number }[]>('select count(*)::int as count from products');
  if (row!.count > 0) return false;

  const products = demoProducts();
  const ids = products.map(() => uuidv7());
  const start = Date.now() - products.length * 60_000;
  const createdAt = products.map((_, i) => new Date(start + i * 60_000).toISOString());
  await ctx.orm.em.fork().transactional(async (em) => {
    await run(
      em,
      sql`insert into products (id, seller_id, name, description, price, category, brand, status, created_at, updated_at)
          select id, ${sellerId}, name, description, price, category, brand, 'ON_SALE', created_at, created_at
          from unnest(${ids}::uuid[], ${products.map((p) => p.name)}::text[], ${products.map((p) => p.description)}::text[],
                      ${products.map((p) => p.price)}::int[], ${products.map((p) => p.category)}::text[],
                      ${products.map((p) => p.brand)}::text[], ${createdAt}::timestamptz[])
            as t(id, name, description, price, category, brand, created_at)`,
    );
    await run(
      em,
      sql`insert into inventory (product_id, stock, reserved, sold, version, updated_at)
          select id, stock, 0, 0, 1, now() from unnest(${ids}::uuid[], ${products.map((p) => p.stock)}::int[]) as t(id, stock)`,
    );
  });
  ctx.log.info({ products: products.length }, 'seeded the demo catalog');
  return true;
}
