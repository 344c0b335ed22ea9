import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDatabase } from '../../src/db/database-url';
import { createOrm, migrate } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { freeListeningPort } from '../support/ports';

const log = createLogger({ logLevel: 'silent' });

describe('the database a fresh machine gets (README: npm start)', () => {
  it('uses DATABASE_URL when it is set, without probing anything', async () => {
    const db = await resolveDatabase('postgresql://x@example.invalid/shop', log);
    expect(db.url).toBe('postgresql://x@example.invalid/shop');
  });

  it('uses the local PostgreSQL when it answers', async () => {
    const db = await resolveDatabase(undefined, log, {
      localUrl: 'postgresql://postgres@127.0.0.1:5432/shop',
    });
    expect(db.url).toBe('postgresql://postgres@127.0.0.1:5432/shop');
  });

  it('starts an embedded PostgreSQL when none answers, and the shop migrates into it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shop-embedded-'));
    const port = await freeListeningPort();
    const db = await resolveDatabase(undefined, log, {
      localUrl: 'postgresql://postgres@127.0.0.1:1/shop',
      dataDir,
      embeddedPort: port,
    });
    try {
      expect(db.url).toBe(`postgresql://postgres:postgres@127.0.0.1:${port}/shop`);
      const orm = await createOrm(db.url, 2);
      try {
        expect((await migrate(orm)).length).toBeGreaterThan(0);
        const [row] = await orm.em.getConnection().execute('select count(*)::int as n from products');
        expect(row).toEqual({ n: 0 });
      } finally {
        await orm.close();
      }
    } finally {
      await db.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
