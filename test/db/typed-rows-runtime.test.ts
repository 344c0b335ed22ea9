import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findQueuedCommand, rememberQueuedCommand } from '../../src/commands/queued-commands';
import { db, type Row } from '../../src/db/database';
import { query, sql } from '../../src/db/sql';
import { createTestShop, type TestShop } from '../support/test-shop';

/**
 * `DB` (src/db/database.ts) says what a read outside MikroORM's hydration returns; these reads, through
 * the builder and through `sql`, check it against what pg really hands back.
 */

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop();
});
afterAll(() => shop?.close());

describe('DB types against the values pg returns', () => {
  it('reads a bigint column as a string and a timestamp as a string, through the builder and through sql', async () => {
    const user = await shop.createUser('BUYER', { balance: 12_345 });
    const em = shop.ctx.orm.em.fork();
    const built = await db(em)
      .selectFrom('users')
      .select(['balance', 'created_at', 'token_version'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    const [raw] = await query<Row<'users', 'balance' | 'created_at' | 'token_version'>>(
      em,
      sql`select balance, created_at, token_version from users where id = ${user.id}`,
    );
    for (const row of [built, raw!]) {
      expect(row.balance).toBe('12345');
      expect(typeof row.created_at).toBe('string');
      expect(Number.isNaN(new Date(row.created_at).getTime())).toBe(false);
      expect(typeof row.token_version).toBe('number');
    }
  });

  it('reads jsonb as a parsed object', async () => {
    const em = shop.ctx.orm.em.fork();
    const id = crypto.randomUUID();
    const user = await shop.createUser('BUYER');
    await rememberQueuedCommand(
      em,
      { id, userId: user.id, queue: 'orders', type: 'PLACE', data: { idempotencyKey: 'k-1' } },
      new Date(),
    );
    const row = await findQueuedCommand(em, id);
    expect(row?.data).toEqual({ idempotencyKey: 'k-1' });
    expect(typeof row?.acceptedAt).toBe('string');
  });
});
