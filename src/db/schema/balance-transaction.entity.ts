import { defineEntity, p } from '@mikro-orm/postgresql';
import { uuidv7 } from '../../ids';
import { User } from './user.entity';

export const BALANCE_TRANSACTION_KINDS = ['CHARGE', 'PAYMENT', 'REFUND'] as const;
export type BalanceTransactionKind = (typeof BALANCE_TRANSACTION_KINDS)[number];

/**
 * The prepaid balance's ledger: every change of users.balance has one row. A payment or refund id
 * appears at most once per kind, so a retried debit or credit cannot be applied twice.
 */
export const BalanceTransactionSchema = defineEntity({
  name: 'BalanceTransaction',
  tableName: 'balance_transactions',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    userId: () => p.manyToOne(User).mapToPk().fieldName('user_id').index(),
    kind: p.enum(BALANCE_TRANSACTION_KINDS),
    amount: p.bigint('number'),
    balanceAfter: p.bigint('number'),
    referenceId: p.uuid().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  uniques: [{ name: 'balance_transactions_reference_unique', properties: ['kind', 'referenceId'] }],
  checks: [{ name: 'balance_transactions_after_non_negative', expression: 'balance_after >= 0' }],
});
export class BalanceTransaction extends BalanceTransactionSchema.class {}
BalanceTransactionSchema.setClass(BalanceTransaction);
