import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type LoadOptions, type LoadResult, runClosedLoop } from '../support/load';

/**
 * A fixed yardstick for placement (issue 11), independent of the shop's own SQL: the least a
 * placement can cost on this database — two conditional stock updates in product-id order, the
 * order with a small jsonb snapshot, its two items in one multi-row insert, one outbox row — as
 * named prepared statements over one connection per client, synchronous commit on. Its own scratch
 * tables in schema `lean_ref` of the bench database, so the shop's tables and relay never see it.
 */
const SCHEMA = 'lean_ref';
const STOCK = 1_000_000_000;

const DDL = `
  drop schema if exists ${SCHEMA} cascade;
  create schema ${SCHEMA};
  create table ${SCHEMA}.inventory (
    product_id uuid primary key,
    stock integer not null,
    reserved integer not null default 0,
    check (reserved >= 0 and reserved <= stock)
  );
  create table ${SCHEMA}.orders (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null,
    snapshot jsonb not null,
    created_at timestamptz not null default now()
  );
  create table ${SCHEMA}.order_items (
    order_id uuid not null references ${SCHEMA}.orders (id),
    product_id uuid not null,
    quantity integer not null,
    unit_price integer not null,
    primary key (order_id, product_id)
  );
  create table ${SCHEMA}.outbox (
    id uuid primary key,
    type text not null,
    payload jsonb not null,
    created_at timestamptz not null default now()
  );`;

const RESERVE = {
  name: 'lean_reserve',
  text: `update ${SCHEMA}.inventory set reserved = reserved + $2 where product_id = $1 and stock - reserved >= $2`,
};
const INSERT_ORDER = {
  name: 'lean_order',
  text: `insert into ${SCHEMA}.orders (user_id, snapshot) values ($1, $2::jsonb) returning id`,
};
const INSERT_ITEMS = {
  name: 'lean_items',
  text: `insert into ${SCHEMA}.order_items (order_id, product_id, quantity, unit_price)
         values ($1, $2, $3, $4), ($1, $5, $6, $7)`,
};
const INSERT_OUTBOX = {
  name: 'lean_outbox',
  text: `insert into ${SCHEMA}.outbox (id, type, payload) values ($1, 'ORDER_CREATED', $2::jsonb)`,
};

export interface LeanPlacement {
  run: (options: LoadOptions) => Promise<LoadResult>;
  drop: () => Promise<void>;
}

/** Creates the scratch tables with `products` rows of ample stock; `run` is one load phase. */
export async function prepareLeanPlacement(databaseUrl: string, products: number): Promise<LeanPlacement> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const ids = Array.from({ length: products }, () => randomUUID()).sort();
  try {
    await admin.query(DDL);
    await admin.query(`insert into ${SCHEMA}.inventory (product_id, stock) select unnest($1::uuid[]), $2`, [
      ids,
      STOCK,
    ]);
    await admin.query(`analyze ${SCHEMA}.inventory`);
  } finally {
    await admin.end();
  }
  return {
    run: (options) => placeLean(databaseUrl, ids, options),
    drop: async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`drop schema if exists ${SCHEMA} cascade`).finally(() => client.end());
    },
  };
}

async function placeLean(databaseUrl: string, products: string[], options: LoadOptions): Promise<LoadResult> {
  const clients = await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    }),
  );
  const pickTwo = (): [string, string] => {
    const a = Math.floor(Math.random() * products.length);
    let b = Math.floor(Math.random() * (products.length - 1));
    if (b >= a) b++;
    return a < b ? [products[a]!, products[b]!] : [products[b]!, products[a]!];
  };
  try {
    return await runClosedLoop(async (vu) => {
      const client = clients[vu]!;
      const [first, second] = pickTwo();
      const userId = randomUUID();
      await client.query('begin');
      try {
        for (const product of [first, second]) {
          const reserved = await client.query({ ...RESERVE, values: [product, 1] });
          if (reserved.rowCount !== 1) {
            await client.query('rollback');
            return 'no-stock';
          }
        }
        const snapshot = JSON.stringify({ status: 'PENDING', lines: 2, total: 20_000 });
        const order = await client.query<{ id: string }>({ ...INSERT_ORDER, values: [userId, snapshot] });
        const orderId = order.rows[0]!.id;
        await client.query({ ...INSERT_ITEMS, values: [orderId, first, 1, 10_000, second, 1, 10_000] });
        await client.query({
          ...INSERT_OUTBOX,
          values: [randomUUID(), JSON.stringify({ orderId, userId, total: 20_000 })],
        });
        await client.query('commit');
        return 'ok';
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        return `error:${(error as { code?: string }).code ?? 'unknown'}`;
      }
    }, options);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
