import { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ormConfig } from '../../mikro-orm.config';
import { createTestDatabase, databaseUrl, dropTestDatabase } from '../support/databases';

/**
 * The entities and the checked-in migrations describe the same schema: a database migrated to the
 * latest migration needs no change to match the entities. Otherwise the next `npm run
 * migration:create` carries someone else's drift (a sequence, a dropped trigger) into an unrelated
 * migration, and code reading the entities disagrees with the tables it runs against.
 */
let name: string;
let orm: MikroORM;
beforeAll(async () => {
  name = await createTestDatabase(inject('templateDatabase'));
  orm = await MikroORM.init(ormConfig({ clientUrl: databaseUrl(name), poolSize: 1 }));
});
afterAll(async () => {
  await orm?.close();
  if (name) await dropTestDatabase(name);
});

describe('the migrated schema', () => {
  it('is what the entities describe', async () => {
    expect(await orm.schema.getUpdateSchemaSQL({ wrap: false })).toBe('');
  });
});
