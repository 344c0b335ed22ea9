import pg from 'pg';
import { databaseUrl, withAdminClient } from '../../support/databases';

export const BENCH_DB_PREFIX = 'shop_bench_';
/** Databases of crashed runs older than this are dropped by the next run. */
const STALE_AFTER_S = 3 * 3600;

export interface BenchDatabase {
  name: string;
  url: string;
  /** A small pool for seeding and checks (not for load: raw ceilings open their own clients). */
  pool: pg.Pool;
  drop: () => Promise<void>;
}

/**
 * A fresh, empty database for one bench run; the shop migrates it when it starts. `tag` tells apart
 * the databases one process makes at once (the two sides of an A/B run).
 */
export async function createBenchDatabase(tag = ''): Promise<BenchDatabase> {
  const name = `${BENCH_DB_PREFIX}${Math.floor(Date.now() / 1000)}_${process.pid}${tag}`;
  await withAdminClient(async (client) => {
    await dropStale(client);
    await client.query(`create database "${name}"`);
  });
  const url = databaseUrl(name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // An idle connection the server ends (the database dropped at the end of the run) is replaced on
  // next use; unhandled, its error would end the whole run before the results are written.
  pool.on('error', (error) => console.warn(`[bench] ${name}: idle connection ended: ${error.message}`));
  let dropped = false;
  return {
    name,
    url,
    pool,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await pool.end().catch(() => undefined);
      await withAdminClient((client) => client.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

async function dropStale(client: pg.Client) {
  const { rows } = await client.query<{ datname: string }>(
    `select datname from pg_database where datname like 'shop\\_bench\\_%'`,
  );
  const now = Math.floor(Date.now() / 1000);
  for (const { datname } of rows) {
    const created = Number(datname.slice(BENCH_DB_PREFIX.length).split('_')[0]);
    if (!(now - created < STALE_AFTER_S))
      await client.query(`drop database if exists "${datname}" with (force)`).catch(() => undefined);
  }
}
