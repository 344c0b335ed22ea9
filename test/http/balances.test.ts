import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBalanceChange } from '../../src/balance/balance-ledger';
import { balanceTransaction, retryOnBalanceConflict } from '../../src/balance/retry-on-conflict';
import { query, sql } from '../../src/db/sql';
import { BalanceConflictError } from '../../src/errors/balance-conflict.error';
import { isInsufficientBalanceError } from '../../src/errors/insufficient-balance.error';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop();
});
afterAll(() => shop?.close());

const charge = (user: TestUser | undefined, body: unknown) =>
  shop.request('POST', '/api/v1/balances/charge', { token: user?.token, body });

async function storedBalance(userId: string) {
  const [row] = await query<{ balance: string; version: number }>(
    shop.ctx.orm.em.fork(),
    sql`select balance, version from users where id = ${userId}`,
  );
  return { balance: Number(row!.balance), version: row!.version };
}

async function ledger(userId: string) {
  const rows = await query<{
    kind: string;
    amount: string;
    balanceAfter: string;
    referenceId: string | null;
  }>(
    shop.ctx.orm.em.fork(),
    sql`select kind, amount, balance_after as "balanceAfter", reference_id as "referenceId"
        from balance_transactions where user_id = ${userId} order by balance_after, id`,
  );
  return rows.map((r) => ({ ...r, amount: Number(r.amount), balanceAfter: Number(r.balanceAfter) }));
}

const debit = (userId: string, amount: number, referenceId: string = crypto.randomUUID()) =>
  balanceTransaction(shop.ctx.orm.em, (em) =>
    applyBalanceChange(em, { userId, kind: 'PAYMENT', amount: -amount, referenceId }),
  );

describe('charging adds to the caller’s balance and writes one CHARGE ledger row', () => {
  it('charges, answers the new balance and reads it back', async () => {
    const user = await shop.createUser('BUYER');
    const first = await charge(user, { amount: 5000 });
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual({ userId: user.id, balance: 5000 });
    const second = await charge(user, { amount: 2500 });
    expect(second.body.data.balance).toBe(7500);

    const me = await shop.request('GET', '/api/v1/balances/me', { token: user.token });
    expect(me.status).toBe(200);
    expect(me.body.data).toEqual({ userId: user.id, balance: 7500 });
    expect(await ledger(user.id)).toEqual([
      { kind: 'CHARGE', amount: 5000, balanceAfter: 5000, referenceId: null },
      { kind: 'CHARGE', amount: 2500, balanceAfter: 7500, referenceId: null },
    ]);
  });

  it('accepts the limits 1 and 10,000,000, for sellers and admins too', async () => {
    for (const role of ['BUYER', 'SELLER', 'ADMIN'] as const) {
      const user = await shop.createUser(role);
      expect((await charge(user, { amount: 1 })).status).toBe(200);
      const top = await charge(user, { amount: 10_000_000 });
      expect(top.status).toBe(200);
      expect(top.body.data.balance).toBe(10_000_001);
    }
  });

  it('refuses 0, negative, fractional, textual, missing and over-limit amounts with 400, writing nothing', async () => {
    const user = await shop.createUser('BUYER', { balance: 100 });
    const bad = [0, -1, -5000, 1.5, '5000', 10_000_001, 1e20, null, true, [5000], { value: 1 }];
    for (const amount of bad) {
      const res = await charge(user, { amount });
      expect(res.status, JSON.stringify(amount)).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
      expect(res.body.details).toContainEqual(expect.objectContaining({ field: 'body.amount' }));
    }
    expect((await charge(user, {})).status).toBe(400);
    expect(await storedBalance(user.id)).toMatchObject({ balance: 100 });
    expect(await ledger(user.id)).toEqual([]);
  });

  it('needs a valid token', async () => {
    const res = await charge(undefined, { amount: 1000 });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('UNAUTHORIZED');
  });
});

describe('a balance is readable by its owner and by ADMIN only; anyone else gets 404', () => {
  it('lets a user read their own balance by id', async () => {
    const user = await shop.createUser('BUYER', { balance: 1234 });
    const res = await shop.request('GET', `/api/v1/balances/${user.id}`, { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ userId: user.id, balance: 1234 });
  });

  it('answers another user’s balance exactly like an unknown user: 404', async () => {
    const owner = await shop.createUser('BUYER', { balance: 999 });
    for (const role of ['BUYER', 'SELLER'] as const) {
      const other = await shop.createUser(role);
      const foreign = await shop.request('GET', `/api/v1/balances/${owner.id}`, { token: other.token });
      const unknown = await shop.request('GET', `/api/v1/balances/${crypto.randomUUID()}`, {
        token: other.token,
      });
      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual(unknown.body);
      expect(JSON.stringify(foreign.body)).not.toContain('999');
    }
  });

  it('lets an ADMIN read anyone’s balance, and answers 404 for an unknown id', async () => {
    const admin = await shop.createUser('ADMIN');
    const user = await shop.createUser('BUYER', { balance: 4321 });
    const res = await shop.request('GET', `/api/v1/balances/${user.id}`, { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ userId: user.id, balance: 4321 });
    const unknown = await shop.request('GET', `/api/v1/balances/${crypto.randomUUID()}`, {
      token: admin.token,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('NOT_FOUND');
  });

  it('answers 400 for a malformed id and 401 without a token', async () => {
    const user = await shop.createUser('BUYER');
    for (const id of ['42', 'not-a-uuid', `${user.id}x`, "1' or '1'='1"]) {
      const res = await shop.request('GET', `/api/v1/balances/${encodeURIComponent(id)}`, {
        token: user.token,
      });
      expect(res.status, id).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
    }
    expect((await shop.request('GET', '/api/v1/balances/me')).status).toBe(401);
    expect((await shop.request('GET', `/api/v1/balances/${user.id}`)).status).toBe(401);
  });
});

describe('concurrent charges never lose one (optimistic lock on users.version, retried)', () => {
  it('applies all of 20 simultaneous charges: balance = sum, 20 ledger rows, 20 version bumps', async () => {
    const user = await shop.createUser('BUYER');
    const before = await storedBalance(user.id);
    const amounts = Array.from({ length: 20 }, (_, i) => (i + 1) * 1000);
    const answers = await Promise.all(amounts.map((amount) => charge(user, { amount })));
    expect(answers.map((a) => a.status)).toEqual(amounts.map(() => 200));

    const total = amounts.reduce((a, b) => a + b, 0);
    expect(await storedBalance(user.id)).toEqual({ balance: total, version: before.version + 20 });
    const rows = await ledger(user.id);
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.kind === 'CHARGE')).toBe(true);
    expect(rows.map((r) => r.amount).sort((a, b) => a - b)).toEqual(amounts);
    // Every answer is a distinct point on the ledger's running balance.
    expect(answers.map((a) => a.body.data.balance).sort((a, b) => a - b)).toEqual(
      rows.map((r) => r.balanceAfter),
    );
  });
});

describe('applyBalanceChange: debits never take a balance below zero', () => {
  it('lets exactly as many parallel debits through as the balance covers', async () => {
    const user = await shop.createUser('BUYER', { balance: 1000 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => debit(user.id, 300)));
    const succeeded = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(succeeded).toHaveLength(3);
    expect(refused).toHaveLength(7);
    for (const r of refused)
      expect(isInsufficientBalanceError((r as PromiseRejectedResult).reason)).toBe(true);

    expect((await storedBalance(user.id)).balance).toBe(100);
    const rows = await ledger(user.id);
    expect(rows.map((r) => [r.kind, r.amount, r.balanceAfter])).toEqual([
      ['PAYMENT', -300, 100],
      ['PAYMENT', -300, 400],
      ['PAYMENT', -300, 700],
    ]);
  });

  it('refuses a debit larger than the balance with the balance and the amount, writing nothing', async () => {
    const user = await shop.createUser('BUYER', { balance: 500 });
    const error = await debit(user.id, 501).catch((e: unknown) => e);
    expect(isInsufficientBalanceError(error)).toBe(true);
    expect(error).toMatchObject({ userId: user.id, balance: 500, requested: 501 });
    expect(await storedBalance(user.id)).toMatchObject({ balance: 500 });
    expect(await ledger(user.id)).toEqual([]);
    // Exactly the balance is fine and leaves zero.
    expect((await debit(user.id, 500)).balance).toBe(0);
  });

  it('rejects a change whose sign contradicts its kind', async () => {
    const user = await shop.createUser('BUYER', { balance: 500 });
    const em = shop.ctx.orm.em;
    await expect(
      balanceTransaction(em, (tx) =>
        applyBalanceChange(tx, { userId: user.id, kind: 'PAYMENT', amount: 100 }),
      ),
    ).rejects.toThrow(TypeError);
    await expect(
      balanceTransaction(em, (tx) =>
        applyBalanceChange(tx, { userId: user.id, kind: 'REFUND', amount: -100 }),
      ),
    ).rejects.toThrow(TypeError);
    await expect(
      balanceTransaction(em, (tx) =>
        applyBalanceChange(tx, { userId: user.id, kind: 'CHARGE', amount: 1.5 }),
      ),
    ).rejects.toThrow(TypeError);
    expect(await storedBalance(user.id)).toMatchObject({ balance: 500 });
  });

  it('answers NOT_FOUND for an unknown user', async () => {
    await expect(
      balanceTransaction(shop.ctx.orm.em, (tx) =>
        applyBalanceChange(tx, { userId: crypto.randomUUID(), kind: 'CHARGE', amount: 1 }),
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('applyBalanceChange: one reference is applied once per kind', () => {
  it('applies the same payment id twice only once and answers the current balance the second time', async () => {
    const user = await shop.createUser('BUYER', { balance: 1000 });
    const paymentId = crypto.randomUUID();
    const first = await debit(user.id, 300, paymentId);
    expect(first).toMatchObject({ balance: 700, applied: true });
    const again = await debit(user.id, 300, paymentId);
    expect(again).toMatchObject({ balance: 700, applied: false, transactionId: null });
    expect((await storedBalance(user.id)).balance).toBe(700);
    expect(await ledger(user.id)).toHaveLength(1);
  });

  it('applies a reference once even when the same change races itself', async () => {
    const user = await shop.createUser('BUYER');
    const refundId = crypto.randomUUID();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        balanceTransaction(shop.ctx.orm.em, (em) =>
          applyBalanceChange(em, { userId: user.id, kind: 'REFUND', amount: 250, referenceId: refundId }),
        ),
      ),
    );
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    expect(results.every((r) => r.balance === 250)).toBe(true);
    expect((await storedBalance(user.id)).balance).toBe(250);
    expect(await ledger(user.id)).toEqual([
      { kind: 'REFUND', amount: 250, balanceAfter: 250, referenceId: refundId },
    ]);
  });

  it('treats a payment and a refund with the same id as two changes', async () => {
    const user = await shop.createUser('BUYER', { balance: 1000 });
    const id = crypto.randomUUID();
    await debit(user.id, 400, id);
    const refund = await balanceTransaction(shop.ctx.orm.em, (em) =>
      applyBalanceChange(em, { userId: user.id, kind: 'REFUND', amount: 400, referenceId: id }),
    );
    expect(refund).toMatchObject({ balance: 1000, applied: true });
    expect(await ledger(user.id)).toHaveLength(2);
  });

  it('still answers "already applied" once the balance could no longer cover the debit', async () => {
    const user = await shop.createUser('BUYER', { balance: 300 });
    const paymentId = crypto.randomUUID();
    await debit(user.id, 300, paymentId);
    expect(await debit(user.id, 300, paymentId)).toMatchObject({ balance: 0, applied: false });
  });
});

describe('applyBalanceChange runs inside the caller’s transaction', () => {
  it('leaves no trace when the caller’s transaction rolls back', async () => {
    const user = await shop.createUser('BUYER', { balance: 1000 });
    const failure = new Error('the payment failed after the debit');
    await expect(
      shop.ctx.orm.em.fork().transactional(async (em) => {
        const result = await applyBalanceChange(em, {
          userId: user.id,
          kind: 'PAYMENT',
          amount: -600,
          referenceId: crypto.randomUUID(),
        });
        expect(result.balance).toBe(400);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await storedBalance(user.id)).toMatchObject({ balance: 1000 });
    expect(await ledger(user.id)).toEqual([]);
  });

  it('throws BalanceConflictError when another change commits between its read and its write; a retry recovers', async () => {
    const user = await shop.createUser('BUYER', { balance: 1000 });
    let releaseFirst!: () => void;
    const firstMayCommit = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstApplied!: () => void;
    const firstHasApplied = new Promise<void>((resolve) => {
      firstApplied = resolve;
    });
    // The first change writes and holds its row lock until released.
    const first = shop.ctx.orm.em.fork().transactional(async (em) => {
      const result = await applyBalanceChange(em, { userId: user.id, kind: 'CHARGE', amount: 100 });
      firstApplied();
      await firstMayCommit;
      return result;
    });
    await firstHasApplied;
    // The second reads the old version, then waits for the lock on the row; once the first commits,
    // its compare-and-set finds a new version.
    let secondAttempts = 0;
    const second = balanceTransaction(shop.ctx.orm.em, (em) => {
      secondAttempts++;
      return applyBalanceChange(em, { userId: user.id, kind: 'CHARGE', amount: 10 });
    });
    const unretried = shop.ctx.orm.em
      .fork()
      .transactional((em) => applyBalanceChange(em, { userId: user.id, kind: 'CHARGE', amount: 1 }))
      .catch((error: unknown) => error);
    await waitForLockWaiters(2);
    releaseFirst();

    expect((await first).balance).toBe(1100);
    expect(await unretried).toBeInstanceOf(BalanceConflictError);
    expect((await second).balance).toBe(1110);
    expect(secondAttempts).toBe(2);
    expect(await storedBalance(user.id)).toMatchObject({ balance: 1110 });
    expect(await ledger(user.id)).toHaveLength(2);
  });
});

describe('malformed input gets a 4xx in the envelope and writes nothing', () => {
  it('answers every malformed balance request with 4xx and leaves balance and ledger untouched', async () => {
    const user = await shop.createUser('BUYER', { balance: 777 });
    const post = (body: unknown, headers?: Record<string, string>, token: string | undefined = user.token) =>
      shop.request('POST', '/api/v1/balances/charge', { token, body, ...(headers ? { headers } : {}) });
    const answers: (readonly [unknown, { status: number; body: any }])[] = [];
    const bodies: unknown[] = [
      '{"amount": ',
      '{amount: 5}',
      "{'amount': 5}",
      'null',
      '[]',
      '[{"amount": 5}]',
      '"5000"',
      '5000',
      'true',
      '{"amount": 1e400}',
      '{"amount": 9007199254740993}',
      '{"amount": NaN}',
      '{"amount": 0x10}',
      { amount: -0.5 },
      { amount: Number.MAX_SAFE_INTEGER },
      { amount: '1e3' },
      { amount: ' 5' },
      { amount: '' },
      { amount: [] },
    ];
    for (const body of bodies) answers.push([body, await post(body)] as const);
    answers.push(['text/plain', await post('{"amount": 5}', { 'content-type': 'text/plain' })] as const);
    answers.push(['oversized', await post({ amount: 5, padding: 'x'.repeat(1024 * 1024) })] as const);
    for (const token of ['', 'garbage', `${user.token}x`, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      answers.push([
        `token ${token.slice(0, 20)}`,
        await post({ amount: 5 }, undefined, token || 'a b'),
      ] as const);
    }
    answers.push(['no token', await charge(undefined, { amount: 5 })] as const);
    for (const id of ['abc', '0', '%00', `${user.id.slice(0, -1)}z`, crypto.randomUUID()]) {
      answers.push([id, await shop.request('GET', `/api/v1/balances/${id}`, { token: user.token })] as const);
    }

    for (const [input, res] of answers) {
      const label = JSON.stringify(input).slice(0, 80);
      expect(res.status, label).toBeGreaterThanOrEqual(400);
      expect(res.status, label).toBeLessThan(500);
      expect(res.body, label).toEqual(
        expect.objectContaining({ error: expect.any(String), message: expect.any(String) }),
      );
    }
    const byLabel = new Map(answers.map(([input, res]) => [input, res]));
    expect(byLabel.get('oversized')).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } });
    expect(byLabel.get('no token')).toMatchObject({ status: 401, body: { error: 'UNAUTHORIZED' } });
    expect(byLabel.get('{"amount": ')).toMatchObject({ status: 400, body: { error: 'VALIDATION_ERROR' } });

    expect(await storedBalance(user.id)).toMatchObject({ balance: 777 });
    expect(await ledger(user.id)).toEqual([]);
  });
});

/** Polls until `count` backends of this test database wait for a row lock. */
async function waitForLockWaiters(count: number) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [row] = await query<{ waiting: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as waiting from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if (row!.waiting >= count) return;
    if (Date.now() > deadline) throw new Error(`expected ${count} lock waiters, saw ${row!.waiting}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('retryOnBalanceConflict retries conflicts only, and only a bounded number of times', () => {
  it('gives up after the given attempts with the conflict', async () => {
    let calls = 0;
    const conflict = new BalanceConflictError('u', 1);
    await expect(
      retryOnBalanceConflict(
        async () => {
          calls++;
          throw conflict;
        },
        { attempts: 4, baseDelayMs: 1 },
      ),
    ).rejects.toBe(conflict);
    expect(calls).toBe(4);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    await expect(
      retryOnBalanceConflict(async () => {
        calls++;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });

  it('returns the first successful attempt', async () => {
    const result = await retryOnBalanceConflict(
      async (attempt) => {
        if (attempt < 3) throw new BalanceConflictError('u', attempt);
        return attempt;
      },
      { baseDelayMs: 1 },
    );
    expect(result).toBe(3);
  });
});
