import type { EntityManager } from '@mikro-orm/postgresql';
import { db } from '../db/database';
import type { BalanceTransactionKind } from '../db/schema/balance-transaction.entity';
import { query, run, sql } from '../db/sql';
import { BalanceConflictError } from '../errors/balance-conflict.error';
import { DomainError } from '../errors/domain-error';
import { InsufficientBalanceError } from '../errors/insufficient-balance.error';
import { uuidv7 } from '../ids';

export interface BalanceChange {
  userId: string;
  kind: BalanceTransactionKind;
  /** Signed won: positive for CHARGE and REFUND, negative for PAYMENT. */
  amount: number;
  /** The payment or refund id; a second change with the same kind and reference is not applied. */
  referenceId?: string | null | undefined;
}

export interface BalanceChangeResult {
  userId: string;
  /** The balance after the change (or, when it had already been applied, the current balance). */
  balance: number;
  /** False when a ledger row for (kind, referenceId) already existed and nothing was changed. */
  applied: boolean;
  /** The ledger row written, or null when nothing was applied. */
  transactionId: string | null;
}

const CREDIT_KINDS: ReadonlySet<BalanceTransactionKind> = new Set(['CHARGE', 'REFUND']);

/**
 * Applies one signed change to a user's prepaid balance inside the caller's transaction (`em` must be
 * the transaction's EntityManager): reads balance and version, writes the new balance with a
 * compare-and-set on `users.version`, and writes the ledger row in the same transaction.
 *
 * Throws
 * - `InsufficientBalanceError` when a debit would go below zero (nothing written);
 * - `BalanceConflictError` when another transaction changed the balance since our read: the caller's
 *   transaction must be rolled back and run again from the start (`retryOnBalanceConflict`);
 * - `DomainError('NOT_FOUND')` for an unknown user.
 *
 * A (kind, referenceId) pair already in the ledger means the change was applied before: the current
 * balance is returned and nothing is written, so a redelivered payment or refund is harmless.
 */
export async function applyBalanceChange(
  em: EntityManager,
  change: BalanceChange,
): Promise<BalanceChangeResult> {
  assertWellFormed(change);
  const { userId, kind, amount } = change;
  const referenceId = change.referenceId ?? null;

  const user = await db(em)
    .selectFrom('users')
    .select(['balance', 'version'])
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!user) throw new DomainError('NOT_FOUND');
  const current = Number(user.balance);

  // The ledger is checked *after* the version is read: a concurrent change committed in between is
  // either found here, or makes the compare-and-set below miss. (Checked first, a change committed
  // between the two reads would be missed by both.) When it is found, the balance read above may
  // predate it, so the answer reads the balance again.
  if (referenceId !== null && (await isAlreadyApplied(em, kind, referenceId))) {
    const fresh = await db(em)
      .selectFrom('users')
      .select('balance')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    return { userId, balance: Number(fresh.balance), applied: false, transactionId: null };
  }

  const next = current + amount;
  if (next < 0) throw new InsufficientBalanceError(userId, current, -amount);

  const updated = await run(
    em,
    sql`update users set balance = ${next}, version = version + 1, updated_at = now()
        where id = ${userId} and version = ${user.version}`,
  );
  if (updated === 0) throw new BalanceConflictError(userId, user.version);

  // The compare-and-set above serialises every change of this user's balance, so a concurrent
  // change with the same reference has either committed before our read (found above) or made our
  // update miss; a unique violation here would be a reference shared between users — a bug.
  const transactionId = uuidv7();
  await run(
    em,
    sql`insert into balance_transactions (id, user_id, kind, amount, balance_after, reference_id, created_at)
        values (${transactionId}, ${userId}, ${kind}, ${amount}, ${next}, ${referenceId}, now())`,
  );
  return { userId, balance: next, applied: true, transactionId };
}

async function isAlreadyApplied(em: EntityManager, kind: BalanceTransactionKind, referenceId: string) {
  const rows = await query(
    em,
    sql`select 1 from balance_transactions where kind = ${kind} and reference_id = ${referenceId}`,
  );
  return rows.length > 0;
}

/** A wrong sign or a non-integer amount is a programming error of the caller, never client input. */
function assertWellFormed({ kind, amount }: BalanceChange) {
  if (!Number.isSafeInteger(amount) || amount === 0) {
    throw new TypeError(`A balance change needs a non-zero integer amount, got ${amount}`);
  }
  if (CREDIT_KINDS.has(kind) !== amount > 0) {
    throw new TypeError(
      `A ${kind} must be ${CREDIT_KINDS.has(kind) ? 'positive' : 'negative'}, got ${amount}`,
    );
  }
}
