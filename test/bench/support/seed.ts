import type pg from 'pg';
import type { TokenService } from '../../../src/auth/tokens';
import { uuidv7 } from '../../../src/ids';

export interface BenchUser {
  id: string;
  token: string;
}

export interface ProductOptions {
  stock: number;
  price?: number;
  category?: string;
}

const BATCH = 5000;
/** Nobody logs in as a bench user: tokens are signed directly, so no password hash is needed. */
const NO_LOGIN = '!bench-user-without-password';

/**
 * Inserts what scenarios need straight into the bench database (thousands of users in a second,
 * instead of thousands of argon2 hashes through /auth/register) and signs each user's token with the
 * server's JWT secret. Buyers form one growing pool: `buyers(n)` returns the first n, creating the
 * missing ones, so scenarios share them.
 */
export class Seeder {
  private readonly buyerPool: BenchUser[] = [];
  private seller: Promise<BenchUser> | undefined;
  private admin: Promise<BenchUser> | undefined;
  private productCount = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly tokens: TokenService,
    private readonly runTag: string,
    /** The shop: products seeded behind its back get their stock gate counters through it. */
    private readonly shopUrl?: string,
  ) {}

  async buyers(count: number): Promise<BenchUser[]> {
    while (this.buyerPool.length < count) {
      const batch = Math.min(BATCH, count - this.buyerPool.length);
      const ids = await this.insertUsers('BUYER', batch);
      for (const id of ids)
        this.buyerPool.push({ id, token: await this.tokens.sign({ id, role: 'BUYER', tokenVersion: 0 }) });
    }
    return this.buyerPool.slice(0, count);
  }

  /** The run's one seller (owner of every seeded product), with a token. */
  sellerUser(): Promise<BenchUser> {
    this.seller ??= this.oneUser('SELLER');
    return this.seller;
  }

  /** The run's one admin, with a token (admin endpoints: outbox lag, coupon resync). */
  adminUser(): Promise<BenchUser> {
    this.admin ??= this.oneUser('ADMIN');
    return this.admin;
  }

  /** `count` new ON_SALE products with their inventory rows. */
  async products(count: number, options: ProductOptions): Promise<string[]> {
    const sellerId = (await this.sellerUser()).id;
    const ids: string[] = [];
    for (let done = 0; done < count; done += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, count - done) }, () => uuidv7());
      const names = batch.map(() => `Bench product ${++this.productCount}`);
      await this.pool.query(
        `insert into products (id, seller_id, name, description, price, category, brand, status, rating_count,
                               rating_sum, created_at, updated_at)
         select id, $2, name, 'A product made by the benchmark', $4, $5, 'Bench', 'ON_SALE', 0, 0, now(), now()
         from unnest($1::uuid[], $3::text[]) as t(id, name)`,
        [batch, sellerId, names, options.price ?? 10_000, options.category ?? 'bench'],
      );
      await this.pool.query(
        `insert into inventory (product_id, stock, reserved, sold, version, updated_at)
         select id, $2, 0, 0, 1, now() from unnest($1::uuid[]) as t(id)`,
        [batch, options.stock],
      );
      ids.push(...batch);
    }
    await this.openStockGate();
    return ids;
  }

  /**
   * A product created through the API gets its stock gate counter at once (product.service.ts); one
   * inserted here would get it from its first order, which then pays a PostgreSQL read and the
   * counter's build — nearly every order of a placement window, with 1,000 products. The admin
   * rebuild gives every seeded product its counter before the load starts, as in production.
   */
  private async openStockGate(): Promise<void> {
    if (!this.shopUrl) return;
    const res = await fetch(`${this.shopUrl}/api/v1/admin/inventory/stock-gate/rebuild`, {
      method: 'POST',
      headers: { authorization: `Bearer ${(await this.adminUser()).token}` },
    });
    // A shop without the gate (STOCK_GATE=false) still answers; anything else is a broken run.
    if (!res.ok) throw new Error(`stock gate rebuild answered ${res.status}: ${await res.text()}`);
  }

  private async oneUser(role: 'SELLER' | 'ADMIN'): Promise<BenchUser> {
    const [id] = await this.insertUsers(role, 1);
    return { id: id!, token: await this.tokens.sign({ id: id!, role, tokenVersion: 0 }) };
  }

  private async insertUsers(role: 'BUYER' | 'SELLER' | 'ADMIN', count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => uuidv7());
    const emails = ids.map((id) => `${role.toLowerCase()}-${id}@${this.runTag}.bench.local`);
    await this.pool.query(
      `insert into users (id, email, name, password_hash, role, business_number, balance, version, created_at,
                          updated_at)
       select id, email, 'Bench ' || $3, $4, $3, $5, 0, 1, now(), now()
       from unnest($1::uuid[], $2::text[]) as t(id, email)`,
      [ids, emails, role, NO_LOGIN, role === 'SELLER' ? '123-45-67890' : null],
    );
    return ids;
  }
}
