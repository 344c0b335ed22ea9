/**
 * A balance refund would return more than its payment took from the balance. The prepaid balance's
 * guard, as the gateway's ledger guards card refunds: the refund fails (staff settle it) and no money
 * is created.
 */
export class RefundExceedsDebitError extends Error {
  constructor(
    readonly refundId: string,
    readonly debited: number,
    readonly credited: number,
  ) {
    super(`Refund ${refundId} would credit back more than the ${debited} debited (${credited} already)`);
    this.name = 'RefundExceedsDebitError';
  }
}

export const isRefundExceedsDebit = (error: unknown): error is RefundExceedsDebitError =>
  error instanceof RefundExceedsDebitError;
