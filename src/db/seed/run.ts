/** `npm run seed`: migrations, the administrator and the demo catalog, then exit. */

import { ensureAdmin } from '../../auth/auth.service';
import { loadConfig } from '../../config';
import { createContext } from '../../context';
import { createLogger } from '../../logger';
import { resolveDatabase } from '../database-url';
import { migrate } from '../orm';
import { seedDemoCatalogIfEmpty } from './demo-catalog';

const config = loadConfig();
const log = createLogger(config);
const database = await resolveDatabase(config.databaseUrl, log);
const ctx = await createContext(config, database.url, log);
try {
  await migrate(ctx.orm);
  await ensureAdmin(ctx);
  const seeded = await seedDemoCatalogIfEmpty(ctx);
  log.info(seeded ? 'demo catalog loaded' : 'products already present; catalog left as it is');
} finally {
  await ctx.close();
  await database.stop();
}
