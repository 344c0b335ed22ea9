/**
 * Runs once before the test files: makes sure PostgreSQL and Redis answer, builds the migrated
 * template database that every test file clones, and removes databases left by crashed runs.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { createOrm, migrate } from '../../src/db/orm';
import { databaseUrl, TEST_DB_PREFIX, withAdminClient } from './databases';

const MIGRATIONS = join(import.meta.dirname, '../../src/db/migrations');
const STALE_AFTER_S = 3 * 3600;

export default async function setup(project: TestProject) {
  await assertRedis();
  const template = `shop_tpl_${migrationsHash()}`;
  await withAdminClient(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `select datname from pg_database where datname like 'shop\\_t\\_%'`,
    );
    // Databases left by runs that crashed; those of a run going on now are younger than this.
    const now = Math.floor(Date.now() / 1000);
    for (const { datname } of rows) {
      const created = Number(datname.slice(TEST_DB_PREFIX.length).split('_')[0]);
      if (!(now - created < STALE_AFTER_S)) {
        await client.query(`drop database if exists "${datname}" with (force)`).catch(() => undefined);
      }
    }
    const exists = await client.query('select 1 from pg_database where datname = $1', [template]);
    if (exists.rowCount === 0) await buildTemplate(client, template);
  });
  project.provide('templateDatabase', template);
}

async function buildTemplate(client: import('pg').Client, template: string) {
  const building = `${template}_building_${process.pid}`;
  await client.query(`drop database if exists "${building}"`);
  await client.query(`create database "${building}"`);
  const orm = await createOrm(databaseUrl(building), 2);
  try {
    await migrate(orm);
  } finally {
    await orm.close();
  }
  await client.query(`alter database "${building}" rename to "${template}"`);
}

function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS).sort())
    hash.update(file).update(readFileSync(join(MIGRATIONS, file)));
  return hash.digest('hex').slice(0, 12);
}

async function assertRedis() {
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`Tests need Redis at 127.0.0.1:6379: ${String(error)}`);
  } finally {
    redis.disconnect();
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}
