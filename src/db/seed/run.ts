/**
 * `npm run seed`: migrations, the administrator and the demo catalog, then exit. Refused with
 * NODE_ENV=production (the demo accounts' passwords are public); exits 78 like a bad configuration,
 * also when ADMIN_EMAIL belongs to a non-admin account.
 */

import { ensureAdmin } from '../../auth/auth.service';
import { type Config, ConfigError, loadConfig } from '../../config';
import { createContext } from '../../context';
import { createLogger } from '../../logger';
import { resolveDatabase } from '../database-url';
import { migrate } from '../orm';
import { seedDemoCatalogIfEmpty } from './demo-catalog';

const config = configOrExit();
const log = createLogger(config);
const database = await resolveDatabase(config.databaseUrl, log);
const ctx = await createContext(config, database.url, log);
try {
  await migrate(ctx.orm);
  await ensureAdmin(ctx);
  const seeded = await seedDemoCatalogIfEmpty(ctx);
  log.info(seeded ? 'demo catalog loaded' : 'products already present; catalog left as it is');
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exitCode = 78; // EX_CONFIG
} finally {
  await ctx.close();
  await database.stop();
}

function configOrExit(): Config {
  try {
    const loaded = loadConfig();
    if (loaded.isProduction)
      throw new ConfigError([
        'NODE_ENV: `npm run seed` loads the demo catalog, whose accounts have public passwords; refused in production',
      ]);
    return loaded;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(78); // EX_CONFIG
  }
}
