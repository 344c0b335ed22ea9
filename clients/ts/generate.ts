// `npm run client:generate`: builds the shop's app (as `npm start` would: local PostgreSQL or the
// embedded one, Redis on REDIS_URL), reads its /openapi.json and writes clients/ts/openapi.d.ts.
// `--check` writes nothing and exits 1 when the committed file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createContext } from '../../src/context';
import { resolveDatabase } from '../../src/db/database-url';
import { createLogger } from '../../src/logger';
import { generateClientTypes } from './generator/generate-types';

export const TYPES_FILE = join(import.meta.dirname, 'openapi.d.ts');

async function main() {
  const config = loadConfig({ ...process.env, WORKERS: 'none', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const log = createLogger(config);
  const database = await resolveDatabase(config.databaseUrl, log);
  const ctx = await createContext(config, database.url, log);
  try {
    const res = await createApp(ctx).request('/openapi.json');
    if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}`);
    const types = await generateClientTypes((await res.json()) as object);
    if (process.argv.includes('--check')) {
      const committed = await readFile(TYPES_FILE, 'utf8').catch(() => '');
      if (committed !== types) {
        console.error(`${TYPES_FILE} is stale: run npm run client:generate`);
        process.exitCode = 1;
      }
      return;
    }
    await writeFile(TYPES_FILE, types);
    console.log(`wrote ${TYPES_FILE}`);
  } finally {
    await ctx.close();
    await database.stop();
  }
}

await main();
