import type { EntityManager } from '@mikro-orm/postgresql';
import { applyBalanceChange } from '../../balance/balance-ledger';
import { query, sql } from '../../db/sql';
import { isInsufficientBalanceError } from '../../errors/insufficient-balance.error';
import { RefundExceedsDebitError } from '../../errors/refund-exceeds-debit.error';
import type { PaymentMethodHandler, RefundAttempt } from './payment-method';

/**
 * BALANCE: the buyer's prepaid balance, debited and credited in the same transaction that tells the
 * order (the ledger's (kind, reference) key makes a second run find the change done). Nothing can
 * land late, so there is nothing to look up after a crash.
 */
export const balancePayments: PaymentMethodHandler = {
  async capture(_ctx, _job, p, _log, settle) {
    try {
      return await settle.succeeded(p.amount, (tx) =>
        applyBalanceChange(tx, { userId: p.user_id, kind: 'PAYMENT', amount: -p.amount, referenceId: p.id }),
      );
    } catch (error) {
      if (!isInsufficientBalanceError(error)) throw error;
      return settle.failed('INSUFFICIENT_BALANCE');
    }
  },

  refund: (_ctx, _job, r, _log, settle) => settle.completed((tx) => creditBalance(tx, r)),
};

/**
 * Credits a BALANCE refund, never beyond what its payment debited (as the gateway never refunds
 * beyond a capture). Concurrent credits of one user serialise on the balance's compare-and-set, and
 * a conflict re-runs this check with the rest of the transaction.
 */
async function creditBalance(tx: EntityManager, r: RefundAttempt): Promise<void> {
  const [row] = await query<{ debited: string; credited: string }>(
    tx,
    sql`select (select coalesce(-sum(amount), 0) from balance_transactions
                where kind = 'PAYMENT' and reference_id = ${r.payment_id}) as debited,
               (select coalesce(sum(b.amount), 0) from balance_transactions b
                join refunds f on f.id = b.reference_id
                where b.kind = 'REFUND' and f.payment_id = ${r.payment_id} and f.id <> ${r.id}) as credited`,
  );
  const debited = Number(row!.debited);
  const credited = Number(row!.credited);
  if (credited + r.amount > debited) throw new RefundExceedsDebitError(r.id, debited, credited);
  await applyBalanceChange(tx, { userId: r.user_id, kind: 'REFUND', amount: r.amount, referenceId: r.id });
}
