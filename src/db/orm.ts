import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig } from '../../mikro-orm.config';

export type Orm = MikroORM;
export type { EntityManager } from '@mikro-orm/postgresql';

export async function createOrm(clientUrl: string, poolSize: number): Promise<Orm> {
  return MikroORM.init(ormConfig({ clientUrl, poolSize }));
}

/** Creates the database if it is missing, then applies every pending checked-in migration. */
export async function migrate(orm: Orm): Promise<string[]> {
  await orm.schema.ensureDatabase({ create: false });
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}
