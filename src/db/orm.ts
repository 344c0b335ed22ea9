import { MikroORM } from '@mikro-orm/postgresql';
import { type OrmSettings, ormConfig } from '../../mikro-orm.config';

export type Orm = MikroORM;
export type { EntityManager } from '@mikro-orm/postgresql';

export async function createOrm(
  clientUrl: string,
  poolSize: number,
  settings: Pick<OrmSettings, 'idleInTransactionTimeoutMs'> = {},
): Promise<Orm> {
  return MikroORM.init(ormConfig({ clientUrl, poolSize, ...settings }));
}

/** Creates the database if it is missing, then applies every pending checked-in migration. */
export async function migrate(orm: Orm): Promise<string[]> {
  await orm.schema.ensureDatabase({ create: false });
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}
