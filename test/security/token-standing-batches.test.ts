import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { createBuyers } from '../support/coupons';
import { statementsDuring } from '../support/query-counter';
import { createTestShop, type TestShop } from '../support/test-shop';

// Issue 12 item 3: a stampede of buyers this process has not seen yet checks their token versions
// in batched reads, not one query per buyer, and the check itself stays as strict.

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop();
});
afterAll(() => shop?.close());

describe('token version checks of many new users at once', () => {
  it('read the users in a few queries, and each user gets their own standing', async () => {
    const buyers = await createBuyers(shop, 300);
    // Revoke a third of them (as a logout would) before this process has seen any.
    const revoked = buyers.filter((_, i) => i % 3 === 0);
    await query(
      shop.ctx.orm.em.fork(),
      sql`update users set token_version = token_version + 1 where id = any(${revoked.map((b) => b.id)}::uuid[])`,
    );
    let answers: (string | undefined)[] = [];
    const statements = await statementsDuring(shop.databaseName, async () => {
      const users = await Promise.all(buyers.map((b) => shop.ctx.tokenChecker.authenticate(b.token)));
      answers = users.map((u) => u?.id);
    });
    const reads = statements.filter((s) => /from users/.test(s));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.length).toBeLessThan(30);
    expect(answers).toEqual(buyers.map((b, i) => (i % 3 === 0 ? undefined : b.id)));
  });

  it('answer a user who does not exist with no standing, beside ones who do', async () => {
    const [buyer] = await createBuyers(shop, 1);
    const ghost = crypto.randomUUID();
    const [found, missing, notAnId] = await Promise.all([
      shop.ctx.tokenChecker.standing(buyer!.id),
      shop.ctx.tokenChecker.standing(ghost),
      shop.ctx.tokenChecker.standing('not-a-uuid'),
    ]);
    expect(found).toEqual({ role: 'BUYER', tokenVersion: 0 });
    expect(missing).toBeUndefined();
    expect(notAnId).toBeUndefined();
  });
});
