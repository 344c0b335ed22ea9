import type { AppContext } from '../context';
import { db } from '../db/database';
import type { Role } from '../db/schema/user.entity';
import { isBalanceConflictError } from '../errors/balance-conflict.error';
import { DomainError } from '../errors/domain-error';
import { applyBalanceChange } from './balance-ledger';
import { balanceTransaction } from './retry-on-conflict';

export interface Viewer {
  id: string;
  role: Role;
}

export interface BalanceView {
  userId: string;
  balance: number;
}

/** Adds `amount` won to the user's own prepaid balance (one CHARGE ledger row). */
export async function chargeBalance(ctx: AppContext, userId: string, amount: number): Promise<BalanceView> {
  try {
    const result = await balanceTransaction(ctx.orm.em, (em) =>
      applyBalanceChange(em, { userId, kind: 'CHARGE', amount }),
    );
    return { userId, balance: result.balance };
  } catch (error) {
    // Only a pathological pile-up of writers on one balance gets here; the client may simply retry.
    if (isBalanceConflictError(error)) {
      throw new DomainError('SERVICE_UNAVAILABLE', {
        en: 'The balance is busy; please retry',
        ko: '잔액 변경 요청이 몰려 있습니다. 잠시 후 다시 시도해 주세요',
      });
    }
    throw error;
  }
}

/**
 * The balance of `userId` as seen by `viewer`: an ADMIN sees anyone's, everybody else only their own.
 * Another user's balance answers exactly like an unknown user, so ids reveal nothing.
 */
export async function getBalance(ctx: AppContext, viewer: Viewer, userId: string): Promise<BalanceView> {
  if (viewer.role !== 'ADMIN' && viewer.id !== userId) throw new DomainError('NOT_FOUND');
  const row = await db(ctx.orm.em.fork())
    .selectFrom('users')
    .select('balance')
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!row) throw new DomainError('NOT_FOUND');
  return { userId, balance: Number(row.balance) };
}
