import { MikroORM } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import { type OrmSettings, ormConfig } from '../../mikro-orm.config';
import { withTimeout } from '../async';
import type { Logger } from '../logger';
import { endCheckedOutClients } from './pool-guard';

export type Orm = MikroORM;
export type { EntityManager } from '@mikro-orm/postgresql';

export async function createOrm(
  clientUrl: string,
  poolSize: number,
  settings: Pick<OrmSettings, 'idleInTransactionTimeoutMs' | 'pipelineTransactionEdges'> = {},
): Promise<Orm> {
  return MikroORM.init(ormConfig({ clientUrl, poolSize, ...settings }));
}

/** Creates the database if it is missing, then applies every pending checked-in migration. */
export async function migrate(orm: Orm): Promise<string[]> {
  await orm.schema.ensureDatabase({ create: false });
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}

/**
 * Closes the ORM's pool, which waits for every client it handed out. A holder that never gives its
 * client back (seen under load: one client checked out and never used, its session idle) would keep
 * a shutdown waiting forever; past `graceMs` the clients still out have their connections ended, which
 * releases them, and the close finishes with a warning naming how many there were.
 */
export async function closeOrm(orm: Orm, graceMs: number, log: Logger): Promise<void> {
  const pool = (await orm.em.getConnection().getNativeClient()) as Pool;
  const closing = orm.close();
  try {
    await withTimeout(closing, graceMs, CLOSE_TIMED_OUT);
  } catch (error) {
    if (error !== CLOSE_TIMED_OUT) throw error;
    const ended = endCheckedOutClients(pool);
    log.warn(
      { clients: ended, totalCount: pool.totalCount, idleCount: pool.idleCount, graceMs },
      'PostgreSQL clients still checked out at close: their connections are ended',
    );
    await closing;
  }
}

const CLOSE_TIMED_OUT = new Error('the pool did not close within the grace period');
