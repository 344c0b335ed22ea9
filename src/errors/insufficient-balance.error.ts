/**
 * A debit would take a prepaid balance below zero. Not a DomainError on purpose: the payment that
 * asked for the debit turns it into a FAILED payment with reason INSUFFICIENT_BALANCE.
 */
export class InsufficientBalanceError extends Error {
  constructor(
    readonly userId: string,
    readonly balance: number,
    readonly requested: number,
  ) {
    super(`Balance ${balance} of user ${userId} cannot cover ${requested}`);
    this.name = 'InsufficientBalanceError';
  }
}

export const isInsufficientBalanceError = (error: unknown): error is InsufficientBalanceError =>
  error instanceof InsufficientBalanceError;
